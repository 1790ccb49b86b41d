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
    NotificationSettings,
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
        (3, "CM001", "j", 9), (3, "CM001", "k", 10),  # repeats of an open case that has no SLA clocks yet
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
                    tuple(sorted(o.split("-", 1)[1] for o in CaseOccurrence.objects.filter(case=case).exclude(source="LEGACY").values_list("source_event_id", flat=True))),
                    tuple(
                        (c.party, c.kind, c.target_days, c.running_since is not None, c.stopped_at is not None,
                         c.met_at is not None, c.intervals.count())
                        for c in SlaClock.objects.filter(case=case).order_by("party", "kind")
                    ),
                    OutboxMessage.objects.filter(case=case).count(),
                )
            )
    return out


def _outbox(installations: list[Any]) -> list[tuple]:
    rows = []
    for m in OutboxMessage.objects.filter(case__installation__in=installations).select_related("case__installation"):
        payload = {k: v for k, v in m.payload.items() if k not in ("id", "occurred_at")}
        payload["case"] = {k: v for k, v in payload["case"].items() if k not in ("reference", "url", "installation_id",
                                                                               "mpan", "mprn")}  # fmt: skip
        payload.pop("text", None)  # names the reference
        rows.append((installations.index(m.case.installation), m.event, m.channel, m.destination, m.status, payload))
    return sorted(rows, key=repr)


def test_batch_matches_single_event_service(supplier, people):
    checks = {
        "CM001": CheckFactory(code="CM001"),
        "DV001": CheckFactory(code="DV001"),
        "CR001": CheckFactory(code="CR001", exclusion_category=ExcludedCategory.MISSING_MASTER_KEYS, retryable=False),
        "IOC1": CheckFactory(code="IOC1", cohorts=[Cohort.IOC]),
    }
    # Users subscribed to "case raised" get an outbox message per new case, whichever path raised it.
    NotificationPreference.objects.create(organisation=supplier, event="CASE_RAISED", by_email=True, by_webhook=True)
    NotificationSettings.objects.create(organisation=supplier, webhook_url="https://hooks.example.com/mehr")
    single_inst = [InstallationFactory(responsible_supplier=supplier) for _ in range(4)]
    batch_inst = [InstallationFactory(responsible_supplier=supplier) for _ in range(4)]
    for group in (single_inst, batch_inst):
        # An open case written without the services (as migrated data may be): no clocks.
        legacy = Case.objects.create(installation=group[3], supplier=supplier, check_type=checks["CM001"],
                                     stage="COMMUNICATIONS", category=checks["CM001"].category, first_occurred_at=T0,
                                     last_occurred_at=T0)  # fmt: skip
        CaseOccurrence.objects.create(case=legacy, source="LEGACY", source_event_id=f"legacy-{legacy.pk}", occurred_at=T0)
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
    assert SlaClock.objects.filter(case__installation=batch_inst[3]).count() == 2  # started by the repeat
    assert CaseEvent.objects.filter(case__installation=batch_inst[3], kind="SLA").count() == 1
    assert set(OutboxMessage.objects.filter(case__installation__in=batch_inst).values_list("channel", flat=True)) == {
        "EMAIL", "WEBHOOK"
    }
    assert _outbox(batch_inst) == _outbox(single_inst)

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


def test_batch_statements_do_not_grow_with_the_batch(supplier, people):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    checks = [CheckFactory(code=f"Q{k:03d}") for k in range(3)]
    NotificationPreference.objects.create(organisation=supplier, event="CASE_RAISED", by_webhook=True)
    NotificationSettings.objects.create(organisation=supplier, webhook_url="https://hooks.example.com/mehr")
    actor = people[Role.DCC_INTEGRATION]

    def run(n: int, prefix: str) -> int:
        installations = [InstallationFactory(responsible_supplier=supplier) for _ in range(n)]
        # New cases, a repeat of each in the same batch, then a batch of repeats on the open cases.
        items = [RaiseItem(installation=i, check=checks[k % 3], source="S1SP", source_event_id=f"{prefix}-{k}-{r}",
                           occurred_at=T0 + timedelta(minutes=r)) for k, i in enumerate(installations) for r in (0, 1)]  # fmt: skip
        with CaptureQueriesContext(connection) as first:
            case_raise_batch(items=items, actor=actor)
        repeats = [RaiseItem(installation=i, check=checks[k % 3], source="S1SP", source_event_id=f"{prefix}-{k}-again",
                             occurred_at=T0) for k, i in enumerate(installations)]  # fmt: skip
        with CaptureQueriesContext(connection) as second:
            case_raise_batch(items=repeats, actor=actor)
        assert OutboxMessage.objects.filter(case__installation__in=installations).count() == n
        assert SlaClock.objects.filter(case__installation__in=installations).count() == 2 * n
        return len(first) + len(second)

    assert run(2, "a") == run(30, "b")
