"""case_raise_batch has the outcomes of case_raise called once per event, in order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from cases.domain import Cohort, ExcludedCategory, Role
from cases.errors import NotPermitted
from cases.models import (
    Case,
    CaseEvent,
    CaseOccurrence,
    Check,
    NotificationPreference,
    OutboxMessage,
    SlaClock,
)
from cases.services import RaiseItem, case_raise, case_raise_batch
from tests.factories import CheckFactory, InstallationFactory

pytestmark = pytest.mark.django_db


T0 = timezone.now().replace(microsecond=0) - timedelta(hours=5)


def _script(installations: list[Any], checks: dict[str, Check], prefix: str) -> list[dict[str, Any]]:
    """A mixed stream: new cases, repeats, repeats inside the batch, replays, invalid events."""
    t0 = T0
    rows = [
        (0, "CM001", "a", 0), (0, "CM001", "b", 1), (1, "CM001", "c", 2), (0, "DV001", "d", 3),
        (2, "CR001", "e", 4), (2, "CR001", "f", 5), (0, "CM001", "a", 6),  # replay of "a" in the batch
        (1, "CM001", "g", -1), (3, "IOC1", "h", 7),  # IOC-only check on a FOC installation: invalid
        (1, "CM001", "i", 8),
    ]
    return [
        {
            "installation": installations[i],
            "check": checks[code],
            "source": "S1SP",
            "source_event_id": f"{prefix}-{sid}",
            "occurred_at": t0 + timedelta(minutes=m),
            "detail": f"event {sid}",
        }
        for i, code, sid, m in rows
    ]


def _snapshot(installations: list[Any]) -> list[tuple]:
    out = []
    for index, installation in enumerate(installations):
        for case in Case.objects.filter(installation=installation).select_related("check_type").order_by("check_type__code"):
            events = list(CaseEvent.objects.filter(case=case).order_by("id").values_list("kind", "body", "visibility"))
            out.append(
                (
                    index,
                    case.check_type.code,
                    case.state,
                    case.stage,
                    case.category,
                    case.owner_party,
                    case.excluded_category,
                    case.occurrence_count,
                    case.first_occurred_at,
                    case.last_occurred_at,
                    case.version,
                    tuple(case.checklist.order_by("order").values_list("order", "party", "text")),
                    tuple(sorted(events)),
                    tuple(sorted(o.split("-", 1)[1] for o in CaseOccurrence.objects.filter(case=case).values_list("source_event_id", flat=True))),
                    tuple(
                        (c.party, c.kind, c.target_days, c.running_since is not None, c.stopped_at is not None,
                         c.met_at is not None, c.intervals.count())
                        for c in SlaClock.objects.filter(case=case).order_by("party", "kind")
                    ),
                    OutboxMessage.objects.filter(case=case).count(),
                )
            )
    return out


def test_batch_matches_single_event_service(supplier, people):
    checks = {
        "CM001": CheckFactory(code="CM001"),
        "DV001": CheckFactory(code="DV001"),
        "CR001": CheckFactory(code="CR001", exclusion_category=ExcludedCategory.MISSING_MASTER_KEYS, retryable=False),
        "IOC1": CheckFactory(code="IOC1", cohorts=[Cohort.IOC]),
    }
    # Users subscribed to "case raised" get an outbox message per new case, whichever path raised it.
    NotificationPreference.objects.create(organisation=supplier, event="CASE_RAISED", by_email=True)
    single_inst = [InstallationFactory(responsible_supplier=supplier) for _ in range(4)]
    batch_inst = [InstallationFactory(responsible_supplier=supplier) for _ in range(4)]
    actor = people[Role.DCC_INTEGRATION]

    single_outcomes = []
    for kwargs in _script(single_inst, checks, "one"):
        try:
            result = case_raise(actor=actor, **kwargs)
            single_outcomes.append((result.created, result.duplicate, result.case.installation_id in {i.pk for i in single_inst}))
        except Exception as exc:  # the invalid event
            single_outcomes.append(type(exc).__name__)

    items = [RaiseItem(**kwargs) for kwargs in _script(batch_inst, checks, "two")]
    outcomes = case_raise_batch(items=items, actor=actor)
    batch_outcomes = [
        "ValidationFailed" if o.errors else (o.created, o.duplicate, Case.objects.get(pk=o.case_id).installation_id in {i.pk for i in batch_inst})
        for o in outcomes
    ]
    assert batch_outcomes == single_outcomes
    assert _snapshot(batch_inst) == _snapshot(single_inst)
    assert SlaClock.objects.filter(case__installation__in=batch_inst).exists()
    assert OutboxMessage.objects.filter(case__installation__in=batch_inst).exists()

    # Replaying the whole batch writes nothing and reports the same cases, as duplicates.
    before = (Case.objects.count(), CaseEvent.objects.count(), CaseOccurrence.objects.count())
    again = case_raise_batch(items=items, actor=actor)
    assert (Case.objects.count(), CaseEvent.objects.count(), CaseOccurrence.objects.count()) == before
    assert [o.case_id for o in again if not o.errors] == [o.case_id for o in outcomes if not o.errors]
    assert all(o.duplicate for o in again if not o.errors)
    assert not any(o.created for o in again)
    assert [o.first_created for o in again] == [o.first_created for o in outcomes]


def test_batch_is_for_dcc_and_its_systems(people, installation, check):
    item = RaiseItem(installation=installation, check=check, source="S1SP", source_event_id="x", occurred_at=timezone.now())
    for role in (Role.USER_AGENT, Role.USER_INTEGRATION, Role.USER_VIEWER):
        with pytest.raises(NotPermitted):
            case_raise_batch(items=[item], actor=people[role])
    assert not Case.objects.exists()
    assert case_raise_batch(items=[item], actor=people[Role.DCC_OPERATOR])[0].created


def test_batch_adds_to_a_case_opened_by_the_single_service(people, installation, check):
    first = case_raise(installation=installation, check=check, source="MCC", source_event_id="1", occurred_at=timezone.now())
    outcomes = case_raise_batch(
        items=[
            RaiseItem(installation=installation, check=check, source="S1SP", source_event_id="2", occurred_at=timezone.now()),
            RaiseItem(installation=installation, check=check, source="MCC", source_event_id="1", occurred_at=timezone.now()),
        ],
        actor=people[Role.DCC_INTEGRATION],
    )
    assert [(o.case_id, o.created, o.duplicate) for o in outcomes] == [(first.case.pk, False, False), (first.case.pk, False, True)]
    assert outcomes[1].first_created
    assert Case.objects.get(pk=first.case.pk).occurrence_count == 2
