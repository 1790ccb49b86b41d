"""Concurrent duplicate ingestion: several processes raise the same events at the same moment, through
the raising service (one event at a time) and through the REST API (batches, the set-based path)."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from cases.domain import EventKind, Role
from cases.models import Case, CaseEvent, CaseOccurrence, Installation
from cases.services import token_issue
from tests.factories import CheckFactory, InstallationFactory, make_user
from tests.retries import workers

from .ingest_proc import post_events, raise_events

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PROCESSES = 4


def test_same_events_from_several_processes_make_no_duplicate_cases() -> None:
    installations = [InstallationFactory() for _ in range(25)]
    for code in ("CM001", "CM002"):
        CheckFactory(code=code)
    # Each (installation, check) is reported by three distinct events; every process sends all of them.
    events = [
        (inst.pk, code, f"evt-{inst.pk}-{code}-{n}") for inst in installations for code in ("CM001", "CM002")
        for n in range(3)
    ]  # fmt: skip
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 8  # after every child has imported Django
    with context.Pool(PROCESSES) as pool:
        results = pool.starmap(
            raise_events, [(workers.test_database_url(), events, start_at, seed) for seed in range(PROCESSES)]
        )
    totals = Counter()
    for r in results:
        totals.update(r)
    assert_one_case_per_installation_and_check(totals, len(events))


def assert_one_case_per_installation_and_check(totals: Counter, events: int) -> None:
    assert sum(totals.values()) == PROCESSES * events
    # One case per (installation, check); every distinct event exactly once; every repeat a duplicate.
    assert Case.objects.count() == totals["created"] == 50
    assert CaseOccurrence.objects.count() == events == totals["created"] + totals["occurrence"]
    assert totals["duplicate"] == (PROCESSES - 1) * events
    pairs = Counter(Case.objects.values_list("installation_id", "check_type__code"))
    assert set(pairs.values()) == {1}
    for case in Case.objects.all():
        assert case.occurrence_count == case.occurrences.count() == 3
    assert CaseEvent.objects.filter(kind=EventKind.RAISED).count() == 50
    assert CaseEvent.objects.filter(kind=EventKind.OCCURRENCE).count() == 100
    assert Installation.objects.count() == 25


def test_same_batches_from_several_processes_through_the_api_make_no_duplicate_cases(dcc) -> None:  # type: ignore[no-untyped-def]
    installations = [InstallationFactory() for _ in range(25)]
    for code in ("CM001", "CM002"):
        CheckFactory(code=code)
    _, token = token_issue(user=make_user(Role.DCC_INTEGRATION, dcc))
    occurred_at = (timezone.now() - timedelta(minutes=5)).isoformat()
    events = [
        {"source": "S1SP", "source_event_id": f"evt-{inst.pk}-{code}-{n}", "check_code": code,
         "occurred_at": occurred_at, "mpan": inst.mpan}
        for inst in installations for code in ("CM001", "CM002") for n in range(3)
    ]  # fmt: skip
    # Batches of 25 mixing installations and checks; every process sends every batch, shuffled.
    batches = [events[i::6] for i in range(6)]
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 8  # after every child has imported Django
    with context.Pool(PROCESSES) as pool:
        results = pool.starmap(
            post_events, [(workers.test_database_url(), token, batches, start_at, seed) for seed in range(PROCESSES)]
        )
    totals = Counter()
    for r in results:
        totals.update(r)
    assert totals.pop("http_errors") == 0
    assert_one_case_per_installation_and_check(totals, len(events))
