"""Concurrent duplicate ingestion: several processes raise the same events at the same moment."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter

import pytest

from cases.domain import EventKind
from cases.models import Case, CaseEvent, CaseOccurrence, Installation
from tests.factories import CheckFactory, InstallationFactory
from tests.retries import workers

from .ingest_proc import raise_events

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
    assert sum(totals.values()) == PROCESSES * len(events)
    # One case per (installation, check); every distinct event exactly once; every repeat a duplicate.
    assert Case.objects.count() == totals["created"] == 50
    assert CaseOccurrence.objects.count() == len(events) == totals["created"] + totals["occurrence"]
    assert totals["duplicate"] == (PROCESSES - 1) * len(events)
    pairs = Counter(Case.objects.values_list("installation_id", "check_type__code"))
    assert set(pairs.values()) == {1}
    for case in Case.objects.all():
        assert case.occurrence_count == case.occurrences.count() == 3
    assert CaseEvent.objects.filter(kind=EventKind.RAISED).count() == 50
    assert CaseEvent.objects.filter(kind=EventKind.OCCURRENCE).count() == 100
    assert Installation.objects.count() == 25
