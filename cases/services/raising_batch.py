"""Raising many cases at once (exception-event ingestion) with set-based queries.

``case_raise_batch`` has the semantics of calling :func:`case_raise` once per event, in order:

* idempotent by (source, source event id): an event seen before (earlier in the batch, or in an
  earlier request) writes nothing and reports the case it went to, and whether it had opened it;
* one open case per (installation, check): the first event of a pair with no open case opens one
  (with its checklist copied from the procedure and a RAISED event); later ones add an occurrence
  (occurrence_count, first/last occurred, an OCCURRENCE event);
* a check with an exclusion category proposes exclusion as soon as its case is opened;
* per-event validation is the same function (``raise_errors``); invalid events are reported and
  skipped, the valid ones are applied.

What differs is the cost: a constant number of statements per batch instead of ~8 per event. The
installations of the batch are locked (``SELECT … FOR UPDATE`` in primary-key order, the same lock
``case_raise`` takes, so single and batch raising serialise per installation and concurrent batches
cannot deadlock on each other), then occurrences and open cases are read once, and cases, checklist
items, events and occurrences are written with bulk inserts. A concurrent duplicate that slips in
on another installation trips the (source, source_event_id) unique key: the batch is retried and
the event then reports as a duplicate.

One visible difference: when a batch opens a case whose check proposes exclusion and also carries
repeats of it, the exclusion's TRANSITION event comes after those OCCURRENCE events instead of
between them (the resulting case, occurrences and set of events are the same; tests compare them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Min, Q
from django.utils import timezone

from cases.domain import OPEN_STATES, EventKind, Visibility
from cases.errors import NotPermitted
from cases.models import Case, CaseEvent, CaseOccurrence, Check, ChecklistItem, Installation, ProcedureStep
from cases.roles import organisation_of, role_of
from cases.signals import case_event_recorded

from .raising import RAISING_ROLES, raise_errors

MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class RaiseItem:
    installation: Installation
    check: Check
    source: str
    source_event_id: str
    occurred_at: datetime
    detail: str = ""
    stage: str | None = None


@dataclass
class RaiseOutcome:
    """What became of one event: its case, whether it opened it, whether it was a replay, or errors."""

    case_id: int | None = None
    created: bool = False  # this delivery opened the case (False for a replay, as in case_raise)
    duplicate: bool = False  # (source, source_event_id) had been seen: nothing was written
    first_created: bool = False  # the first delivery of this event opened the case (replays report it)
    errors: dict[str, list[str]] = field(default_factory=dict)


def case_raise_authorise(*, actor: Any) -> None:
    if role_of(actor) not in RAISING_ROLES:
        raise NotPermitted("Only DCC and its systems raise cases.")


def case_raise_batch(*, items: Sequence[RaiseItem], actor: Any = None) -> list[RaiseOutcome]:
    """Raise every valid item as case_raise would, in order; one outcome per item."""
    # --- check -----------------------------------------------------------------------------
    case_raise_authorise(actor=actor)
    now = timezone.now()
    outcomes = [RaiseOutcome() for _ in items]
    valid: list[int] = []
    for index, item in enumerate(items):
        errors = raise_errors(
            installation=item.installation,
            check=item.check,
            source=item.source,
            source_event_id=item.source_event_id,
            occurred_at=item.occurred_at,
            stage=item.stage,
            now=now,
        )
        if errors:
            outcomes[index].errors = errors
        else:
            valid.append(index)
    if not valid:
        return outcomes

    # --- do --------------------------------------------------------------------------------
    for attempt in range(MAX_ATTEMPTS):
        try:
            with transaction.atomic():
                _apply(items, valid, outcomes, actor)
            break
        except IntegrityError:
            # A concurrent request wrote one of our (source, source event id) pairs first, on an
            # installation we had not locked. Start again: it now reads as a duplicate.
            for index in valid:
                outcomes[index] = RaiseOutcome()
            if attempt == MAX_ATTEMPTS - 1:
                raise
    return outcomes


def _apply(items: Sequence[RaiseItem], valid: list[int], outcomes: list[RaiseOutcome], actor: Any) -> None:
    installation_ids = sorted({items[i].installation.pk for i in valid})
    # The lock case_raise takes, in a fixed order.
    list(Installation.objects.select_for_update().filter(pk__in=installation_ids).order_by("pk").values_list("pk"))

    # Occurrences seen before (replays), read after the lock so concurrent raisers have committed.
    by_source: dict[str, set[str]] = {}
    for i in valid:
        by_source.setdefault(items[i].source, set()).add(items[i].source_event_id)
    seen_filter = Q()
    for source, ids in by_source.items():
        seen_filter |= Q(source=source, source_event_id__in=list(ids))
    seen: dict[tuple[str, str], int] = {
        (s, e): c for s, e, c in CaseOccurrence.objects.filter(seen_filter).values_list("source", "source_event_id", "case_id")
    }
    opened_by: dict[int, tuple[str, str]] = {}
    if seen:
        first_ids = (
            CaseOccurrence.objects.filter(case_id__in=set(seen.values()))
            .values("case_id")
            .annotate(first=Min("id"))
            .values_list("first", flat=True)
        )
        for s, e, c in CaseOccurrence.objects.filter(pk__in=list(first_ids)).values_list(
            "source", "source_event_id", "case_id"
        ):
            opened_by[c] = (s, e)

    check_ids = {items[i].check.pk for i in valid}
    open_cases: dict[tuple[int, int], Case] = {
        (c.installation_id, c.check_type_id): c
        for c in Case.objects.select_for_update()
        .filter(installation_id__in=installation_ids, check_type_id__in=check_ids, state__in=OPEN_STATES)
        .select_related("check_type")
        .only("pk", "state", "supplier_id", "installation_id", "check_type", "occurrence_count", "first_occurred_at",
              "last_occurred_at")
    }

    now = timezone.now()
    new_cases: dict[tuple[int, int], Case] = {}
    touched: dict[int, Case] = {}
    batch_keys: dict[tuple[str, str], tuple[Case, bool]] = {}
    # (case object, kind, item) in order; case ids of new cases are known only after the insert.
    event_plan: list[tuple[Case, str, RaiseItem]] = []
    occurrence_plan: list[tuple[Case, RaiseItem]] = []
    new_order: list[Case] = []
    for i in valid:
        item = items[i]
        key = (item.source, item.source_event_id)
        outcome = outcomes[i]
        if key in seen:
            case_id = seen[key]
            outcome.case_id, outcome.duplicate, outcome.first_created = case_id, True, opened_by.get(case_id) == key
            continue
        if key in batch_keys:
            case, created = batch_keys[key]
            outcome.duplicate, outcome.first_created = True, created
            outcomes[i] = _Deferred(case, outcome)  # type: ignore[assignment]
            continue
        pair = (item.installation.pk, item.check.pk)
        case = open_cases.get(pair) or new_cases.get(pair)
        if case is None:
            case = Case(
                installation_id=item.installation.pk,
                supplier_id=item.installation.responsible_supplier_id,
                cohort=item.installation.cohort,
                installation_type=item.installation.installation_type,
                check_type=item.check,
                stage=item.stage or item.check.stage,
                category=item.check.category,
                owner_party=item.check.acting_party,
                first_occurred_at=item.occurred_at,
                last_occurred_at=item.occurred_at,
                raised_at=now,
                updated_at=now,
            )
            new_cases[pair] = case
            new_order.append(case)
            event_plan.append((case, EventKind.RAISED, item))
            created = True
        else:
            case.occurrence_count += 1
            case.last_occurred_at = max(case.last_occurred_at, item.occurred_at)
            case.first_occurred_at = min(case.first_occurred_at, item.occurred_at)
            case.updated_at = now
            if case.pk is not None:
                touched[case.pk] = case
            event_plan.append((case, EventKind.OCCURRENCE, item))
            created = False
        occurrence_plan.append((case, item))
        batch_keys[key] = (case, created)
        outcome.created = outcome.first_created = created
        outcomes[i] = _Deferred(case, outcome)  # type: ignore[assignment]

    if new_order:
        Case.objects.bulk_create(new_order)
        steps: dict[int, list[ProcedureStep]] = {}
        for step in ProcedureStep.objects.filter(check_type_id__in={c.check_type_id for c in new_order}).order_by(
            "check_type_id", "order"
        ):
            steps.setdefault(step.check_type_id, []).append(step)
        ChecklistItem.objects.bulk_create(
            [
                ChecklistItem(case=case, order=s.order, party=s.party, kind=s.kind, text=s.text)
                for case in new_order
                for s in steps.get(case.check_type_id, ())
            ]
        )
    if touched:
        Case.objects.bulk_update(
            list(touched.values()), ["occurrence_count", "first_occurred_at", "last_occurred_at", "updated_at"]
        )

    organisation = organisation_of(actor)
    role = role_of(actor)
    events = []
    for case, kind, item in event_plan:
        if kind == EventKind.RAISED:
            data: dict[str, Any] = {"check": item.check.code, "stage": case.stage}
            extra = {"to_state": case.state}
        else:
            data = {"source": item.source, "source_event_id": item.source_event_id, "occurred_at": item.occurred_at.isoformat()}
            extra = {}
        events.append(
            CaseEvent(
                case=case,
                kind=kind,
                created_at=now,  # one instant for the whole batch (SLA deadlines are computed once)
                actor=actor,
                actor_organisation=organisation,
                actor_role=role,
                body=item.detail,
                visibility=Visibility.SHARED,
                data=data,
                **extra,
            )
        )
    CaseEvent.objects.bulk_create(events)
    CaseOccurrence.objects.bulk_create(
        [
            CaseOccurrence(
                case=case,
                source=item.source,
                source_event_id=item.source_event_id,
                occurred_at=item.occurred_at,
                detail=item.detail,
            )
            for case, item in occurrence_plan
        ]
    )
    _after_events(events, now)

    # e.g. missing master keys: propose exclusion straight away, as case_raise does.
    from .transitions import case_transition

    for case in new_order:
        if case.check_type.exclusion_category:
            case_transition(
                case=case.pk,
                transition="propose_exclusion",
                actor=None,
                note=f"{case.check_type.code} proposes exclusion on being raised.",
                excluded_category=case.check_type.exclusion_category,
            )

    for index, value in enumerate(outcomes):
        if isinstance(value, _Deferred):
            value.outcome.case_id = value.case.pk
            outcomes[index] = value.outcome


@dataclass
class _Deferred:
    """An outcome whose case id is known once the new cases are inserted."""

    case: Case
    outcome: RaiseOutcome


# --- what receivers of case_event_recorded do, set-based -------------------------------------------
def _after_events(events: list[CaseEvent], now: datetime) -> None:
    """The effects of ``case_event_recorded`` for the batch's RAISED and OCCURRENCE events.

    Receivers get the signal per event with ``bulk=True``; the SLA-and-notifications receiver
    (cases.sla_receivers) leaves those to this function, which does what ``sla_on_event`` and
    ``notifications_on_event`` would do, with a constant number of queries: a new case's clocks are
    created in bulk; an occurrence on a case whose clocks already match its state changes nothing
    (checked in memory, as sla_on_event would); anything else, and any notification a User
    subscribed to, goes through the per-event functions themselves.
    """
    if case_event_recorded.has_listeners(CaseEvent):
        for event in events:
            case_event_recorded.send(sender=CaseEvent, event=event, bulk=True)
    _sla_bulk(events, now)
    _notifications_bulk(events)


def _clocks_aligned(clocks: dict[tuple[str, str], Any], party: str, stopped: bool) -> bool:
    """Would sla_on_event change nothing for a non-response event (e.g. an occurrence)?"""
    from cases.models.sla import ClockKind, ClockParty

    for p in (ClockParty.DCC, ClockParty.USER):
        for kind in (ClockKind.RESPONSE, ClockKind.RESOLUTION):
            clock = clocks.get((p, kind))
            if clock is None:
                if p == party and not stopped:
                    return False
            elif stopped:
                if clock.stopped_at is None:
                    return False
            elif p == party and clock.met_at is None:
                if clock.stopped_at is not None or clock.running_since is None:
                    return False
            elif clock.running_since is not None:
                return False
    return True


def _sla_bulk(events: list[CaseEvent], now: datetime) -> None:
    from cases.models import SlaClock, SlaInterval
    from cases.models.sla import ClockKind
    from cases.services.sla import (
        STOPPED_STATES,
        _deadlines,
        _target,
        sla_calendar,
        sla_on_event,
        waiting_party,
    )

    clocks_by_case: dict[int, dict[tuple[str, str], Any]] = {}
    for clock in SlaClock.objects.select_for_update().filter(case_id__in={e.case_id for e in events}):
        clocks_by_case.setdefault(clock.case_id, {})[(clock.party, clock.kind)] = clock
    cal = sla_calendar()
    deadlines: dict[Any, tuple[Any, Any]] = {}
    new_clocks: list[Any] = []
    per_event: list[CaseEvent] = []
    for event in events:
        case = event.case
        state = str(case.state)
        party, stopped = waiting_party(state), state in STOPPED_STATES
        clocks = clocks_by_case.setdefault(case.pk, {})
        if event.kind == EventKind.RAISED and not clocks:
            if not party or stopped:
                continue
            for kind in (ClockKind.RESPONSE, ClockKind.RESOLUTION):
                clock = SlaClock(case=case, party=party, kind=kind, target_days=_target(case, kind), started_at=now)
                if clock.target_days not in deadlines:  # the same for every clock of the batch's instant
                    _deadlines(clock, now, cal)
                    deadlines[clock.target_days] = (clock.due_at, clock.warn_at)
                clock.due_at, clock.warn_at = deadlines[clock.target_days]
                clock.running_since = now
                clock.updated_at = now
                clocks[(party, kind)] = clock
                new_clocks.append(clock)
        elif not _clocks_aligned(clocks, party, stopped):
            per_event.append(event)
    if new_clocks:
        SlaClock.objects.bulk_create(new_clocks)
        SlaInterval.objects.bulk_create([SlaInterval(clock=clock, started_at=now) for clock in new_clocks])
    for event in per_event:
        sla_on_event(event=event)


def _notifications_bulk(events: list[CaseEvent]) -> None:
    from cases.models import NotificationPreference
    from cases.services.notifications import notification_event_for, notifications_on_event

    typed = [(event, kind) for event in events if (kind := notification_event_for(event))]
    if not typed:
        return
    # notifications_on_event writes nothing unless the supplier subscribed to this kind of event.
    subscribed = set(
        NotificationPreference.objects.filter(
            Q(by_email=True) | Q(by_webhook=True),
            organisation_id__in={event.case.supplier_id for event, _ in typed},
            event__in={kind for _, kind in typed},
            organisation__is_active=True,
        ).values_list("organisation_id", "event")
    )
    for event, kind in typed:
        if (event.case.supplier_id, kind) in subscribed:
            notifications_on_event(event=event)
