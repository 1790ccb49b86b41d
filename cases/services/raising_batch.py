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

What differs is the cost: a constant number of statements per batch (about 20, whatever its size)
instead of ~8 per event, in one transaction. Replays are answered first from the idempotency key,
without locks (as case_raise does). For the rest, the installations of the batch are locked
(``SELECT … FOR UPDATE`` in primary-key order, the same lock ``case_raise`` takes, so single and batch
raising serialise per installation and concurrent batches cannot deadlock on each other), then
replays, open cases (``FOR UPDATE``) and their SLA clocks are read once, and every table is written
with one ``INSERT … SELECT FROM unnest(…)`` (cases.services.bulk: cases, checklist items, events,
occurrences, SLA clocks and intervals) plus one ``UPDATE … FROM unnest(…)`` for the repeated cases; no
model instance is built per row. The effects of the per-event ``case_event_recorded`` receiver (SLA
clocks, outbox rows) are applied set-based too (``_after_events``). A concurrent duplicate that slips
in on another installation trips the (source, source_event_id) unique key: the batch is retried and
the event then reports as a duplicate.

One visible difference: when a batch opens a case whose check proposes exclusion and also carries
repeats of it, the exclusion's TRANSITION event comes after those OCCURRENCE events instead of
between them (the resulting case, occurrences and set of events are the same; tests compare them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Min, Q
from django.utils import timezone

from cases.domain import OPEN_STATES, CaseState, EventKind, Visibility
from cases.errors import NotPermitted
from cases.models import Case, CaseEvent, CaseOccurrence, Check, ChecklistItem, Installation, ProcedureStep
from cases.roles import organisation_of, role_of
from cases.signals import case_events_recorded

from .bulk import bulk_insert, bulk_update_rows
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

    # Replays answer from the idempotency key without locking anything, as case_raise does: an
    # occurrence, once committed, never changes. Only the rest go through the locked path.
    seen, opened_by = _seen(items, valid)
    if seen:
        fresh = []
        for index in valid:
            key = (items[index].source, items[index].source_event_id)
            if key in seen:
                case_id = seen[key]
                outcomes[index] = RaiseOutcome(case_id=case_id, duplicate=True, first_created=opened_by.get(case_id) == key)
            else:
                fresh.append(index)
        valid = fresh
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


def _seen(items: Sequence[RaiseItem], indices: list[int]) -> tuple[dict[tuple[str, str], int], dict[int, tuple[str, str]]]:
    """(source, source event id) → case id for the events already stored, and, for those cases,
    the event that opened each (its first occurrence)."""
    by_source: dict[str, set[str]] = {}
    for i in indices:
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
    return seen, opened_by


@dataclass(slots=True)
class _Case:
    """What the batch needs of a case (new or open): no model instances for 1,000 rows."""

    pk: int | None
    installation: Installation | None  # new cases only (outbox payloads)
    installation_id: int
    check: Check
    supplier_id: int | None
    state: str
    stage: str
    occurrence_count: int
    first_occurred_at: datetime
    last_occurred_at: datetime
    new: bool = False


@dataclass(slots=True)
class _Clock:
    party: str
    kind: str
    running_since: datetime | None
    stopped_at: datetime | None
    met_at: datetime | None


def _apply(items: Sequence[RaiseItem], valid: list[int], outcomes: list[RaiseOutcome], actor: Any) -> None:
    installation_ids = sorted({items[i].installation.pk for i in valid})
    # The lock case_raise takes, in a fixed order.
    list(Installation.objects.select_for_update().filter(pk__in=installation_ids).order_by("pk").values_list("pk"))

    # Occurrences seen before (replays), read after the lock so concurrent raisers have committed.
    seen, opened_by = _seen(items, valid)

    checks = {items[i].check.pk: items[i].check for i in valid}
    open_cases: dict[tuple[int, int], _Case] = {
        (iid, cid): _Case(pk, None, iid, checks[cid], sid, state, stage, count, first, last)
        for pk, iid, cid, sid, state, stage, count, first, last in Case.objects.select_for_update()
        .filter(installation_id__in=installation_ids, check_type_id__in=list(checks), state__in=OPEN_STATES)
        .values_list("pk", "installation_id", "check_type_id", "supplier_id", "state", "stage", "occurrence_count",
                     "first_occurred_at", "last_occurred_at")
    }  # fmt: skip

    now = timezone.now()
    new_cases: dict[tuple[int, int], _Case] = {}
    touched: dict[int, _Case] = {}
    batch_keys: dict[tuple[str, str], tuple[_Case, bool]] = {}
    # (case, kind, item) in order; ids of new cases are known only after they are reserved.
    event_plan: list[tuple[_Case, str, RaiseItem]] = []
    new_order: list[_Case] = []
    pending: list[tuple[int, _Case]] = []  # outcome index, case
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
            pending.append((i, case))
            continue
        pair = (item.installation.pk, item.check.pk)
        case = open_cases.get(pair) or new_cases.get(pair)
        if case is None:
            case = _Case(
                pk=None,
                installation=item.installation,
                installation_id=item.installation.pk,
                check=item.check,
                supplier_id=item.installation.responsible_supplier_id,
                state=CaseState.RAISED,
                stage=item.stage or item.check.stage,
                occurrence_count=1,
                first_occurred_at=item.occurred_at,
                last_occurred_at=item.occurred_at,
                new=True,
            )
            new_cases[pair] = case
            new_order.append(case)
            event_plan.append((case, EventKind.RAISED, item))
            created = True
        else:
            case.occurrence_count += 1
            case.last_occurred_at = max(case.last_occurred_at, item.occurred_at)
            case.first_occurred_at = min(case.first_occurred_at, item.occurred_at)
            if not case.new:
                touched[case.pk] = case  # type: ignore[index]
            event_plan.append((case, EventKind.OCCURRENCE, item))
            created = False
        batch_keys[key] = (case, created)
        outcome.created = outcome.first_created = created
        pending.append((i, case))

    # --- write: one statement per table ------------------------------------------------------
    if new_order:
        # (installation, check) is unique among a batch's new cases (one open case per pair): it
        # matches the returned ids to the cases without reserving them first.
        for pk, installation_id, check_id in bulk_insert(
            Case,
            ["installation_id", "supplier_id", "cohort", "installation_type", "check_type_id", "stage", "category",
             "owner_party", "occurrence_count", "first_occurred_at", "last_occurred_at", "raised_at", "updated_at"],
            [(c.installation_id, c.supplier_id, c.installation.cohort, c.installation.installation_type,  # type: ignore[union-attr]
              c.check.pk, c.stage, c.check.category, c.check.acting_party,
              c.occurrence_count, c.first_occurred_at, c.last_occurred_at, now, now) for c in new_order],
            returning=["id", "installation_id", "check_type_id"],
        ):  # fmt: skip
            new_cases[(installation_id, check_id)].pk = pk
        steps: dict[int, list[tuple[int, str, str, str]]] = {}
        for check_id, order, party, kind, text in (
            ProcedureStep.objects.filter(check_type_id__in={c.check.pk for c in new_order})
            .order_by("check_type_id", "order")
            .values_list("check_type_id", "order", "party", "kind", "text")
        ):
            steps.setdefault(check_id, []).append((order, party, kind, text))
        bulk_insert(
            ChecklistItem,
            ["case_id", "order", "party", "kind", "text"],
            [(case.pk, *step) for case in new_order for step in steps.get(case.check.pk, ())],
        )
    if touched:
        bulk_update_rows(
            Case,
            ["occurrence_count", "first_occurred_at", "last_occurred_at", "updated_at"],
            [(c.pk, c.occurrence_count, c.first_occurred_at, c.last_occurred_at, now) for c in touched.values()],
        )

    organisation = organisation_of(actor)
    role = role_of(actor)
    actor_id = getattr(actor, "pk", None)
    org_id = organisation.pk if organisation is not None else None
    event_rows = []
    for case, kind, item in event_plan:
        if kind == EventKind.RAISED:
            data: dict[str, Any] = {"check": item.check.code, "stage": case.stage}
            to_state = CaseState.RAISED
        else:
            data = {"source": item.source, "source_event_id": item.source_event_id, "occurred_at": item.occurred_at.isoformat()}
            to_state = ""
        # one instant for the whole batch (SLA deadlines are computed once)
        event_rows.append((case.pk, kind, actor_id, org_id, role, now, to_state, Visibility.SHARED, item.detail, data))
    event_ids = bulk_insert(
        CaseEvent,
        ["case_id", "kind", "actor_id", "actor_organisation_id", "actor_role", "created_at", "to_state", "visibility",
         "body", "data"],
        event_rows,
        return_ids=True,
    )  # fmt: skip
    bulk_insert(
        CaseOccurrence,
        ["case_id", "source", "source_event_id", "occurred_at", "recorded_at", "detail"],
        [(case.pk, item.source, item.source_event_id, item.occurred_at, now, item.detail) for case, _, item in event_plan],
    )
    _after_events([(case, kind, pk) for (case, kind, _), pk in zip(event_plan, event_ids, strict=True)], now)

    # e.g. missing master keys: propose exclusion straight away, as case_raise does.
    from .transitions import case_transition

    for case in new_order:
        if case.check.exclusion_category:
            case_transition(
                case=case.pk,
                transition="propose_exclusion",
                actor=None,
                note=f"{case.check.code} proposes exclusion on being raised.",
                excluded_category=case.check.exclusion_category,
            )

    for index, case in pending:
        outcomes[index].case_id = case.pk


# --- what receivers of case_event_recorded do, set-based -------------------------------------------
def _after_events(events: list[tuple[_Case, str, int]], now: datetime) -> None:
    """The effects of ``case_event_recorded`` for the batch's RAISED and OCCURRENCE events.

    The batch does not send ``case_event_recorded`` per event (building 1,000 model instances to
    announce them cost more than writing them); it sends ``case_events_recorded`` once with the
    event ids, and does here what the SLA-and-notifications receiver (cases.sla_receivers) does per
    event, with a constant number of queries: clocks a case lacks for the party it waits on are
    created in bulk (with the SLA event ``sla_on_event`` would record for an occurrence); an
    occurrence on a case whose clocks already match its state changes nothing (checked in memory,
    as sla_on_event would); anything else goes through ``sla_on_event`` itself. Outbox rows for the
    Users subscribed to "case raised" are written in bulk.
    """
    _sla_bulk(events, now)
    _notifications_bulk(events)
    if case_events_recorded.has_listeners(CaseEvent):
        case_events_recorded.send(sender=CaseEvent, event_ids=[pk for _, _, pk in events])


def _sla_changes(clocks: dict[tuple[str, str], _Clock], party: str, stopped: bool) -> tuple[list[str], bool]:
    """For an event that is not a response (a raise, an occurrence): the (party, kind) clocks that
    sla_on_event would start, and whether it would change anything else (then it must run itself)."""
    from cases.models.sla import ClockKind, ClockParty

    missing: list[tuple[str, str]] = []
    for p in (ClockParty.DCC, ClockParty.USER):
        for kind in (ClockKind.RESPONSE, ClockKind.RESOLUTION):
            clock = clocks.get((p, kind))
            if clock is None:
                if p == party and not stopped:
                    missing.append((p, kind))
            elif stopped:
                if clock.stopped_at is None:
                    return missing, True
            elif p == party and clock.met_at is None:
                if clock.stopped_at is not None or clock.running_since is None:
                    return missing, True
            elif clock.running_since is not None:
                return missing, True
    return missing, False


def _sla_bulk(events: list[tuple[_Case, str, int]], now: datetime) -> None:
    from cases.models import SlaClock, SlaInterval
    from cases.models.sla import ClockKind, ClockParty
    from cases.services.sla import (
        STOPPED_STATES,
        _deadlines,
        _target,
        sla_calendar,
        sla_on_event,
        waiting_party,
    )

    clocks_by_case: dict[int, dict[tuple[str, str], _Clock]] = {}
    existing = [case.pk for case, _, _ in events if not case.new]
    if existing:
        for case_id, party, kind, running, stopped_at, met in (
            SlaClock.objects.select_for_update()
            .filter(case_id__in=set(existing))
            .values_list("case_id", "party", "kind", "running_since", "stopped_at", "met_at")
        ):
            clocks_by_case.setdefault(case_id, {})[(party, kind)] = _Clock(party, kind, running, stopped_at, met)
    cal = None
    deadlines: dict[Decimal, tuple[datetime, datetime]] = {}
    new_clocks: list[tuple] = []
    sla_events: list[tuple] = []
    per_event: list[int] = []
    for case, kind, event_id in events:
        state = str(case.state)
        party, stopped = waiting_party(state), state in STOPPED_STATES
        clocks = clocks_by_case.setdefault(case.pk, {})  # type: ignore[arg-type]
        missing, other = _sla_changes(clocks, party, stopped)
        if other:
            per_event.append(event_id)
            continue
        changes = []
        for p, k in missing:
            target = _target(_CheckOnly(case.check), k)
            if target not in deadlines:  # the same for every clock of the batch's instant
                cal = cal or sla_calendar()
                probe = SlaClock(target_days=target, started_at=now, running_since=now)
                _deadlines(probe, now, cal)
                deadlines[target] = (probe.due_at, probe.warn_at)
            due, warn = deadlines[target]
            new_clocks.append((case.pk, p, k, target, now, now, due, warn, now))
            clocks[(p, k)] = _Clock(p, k, now, None, None)
            changes.append(f"{ClockParty(p).label} {ClockKind(k).label.lower()} clock started "
                           f"(target {target:g} working days)")  # fmt: skip
        # Clocks starting with the case are implied by "Raised"; later starts are recorded (as sla_on_event).
        if changes and kind != EventKind.RAISED:
            sla_events.append((case.pk, "; ".join(changes) + ".", {"changes": changes, "state": state, "waiting_on": party}))
    if new_clocks:
        clock_ids = bulk_insert(
            SlaClock,
            ["case_id", "party", "kind", "target_days", "started_at", "running_since", "due_at", "warn_at", "updated_at"],
            new_clocks,
            return_ids=True,
        )
        bulk_insert(SlaInterval, ["clock_id", "started_at"], [(pk, now) for pk in clock_ids])
    if sla_events:
        system_org = organisation_of(None)
        bulk_insert(
            CaseEvent,
            ["case_id", "kind", "actor_id", "actor_organisation_id", "actor_role", "created_at", "visibility", "body",
             "data"],
            [(case_id, EventKind.SLA, None, system_org.pk if system_org else None, role_of(None), now,
              Visibility.SHARED, body, data) for case_id, body, data in sla_events],
        )  # fmt: skip
    if per_event:
        for event in CaseEvent.objects.select_related("case__check_type").filter(pk__in=per_event).order_by("pk"):
            sla_on_event(event=event)


@dataclass(frozen=True, slots=True)
class _CheckOnly:
    """Enough of a case for sla._target (it reads the check's targets)."""

    check_type: Check


def _notifications_bulk(events: list[tuple[_Case, str, int]]) -> None:
    from cases.models import NotificationPreference
    from cases.models.notifications import NotificationEvent
    from cases.services.notifications import notifications_on_events

    # Of these events only "case raised" notifies, and only Users who asked for it.
    raised = [(case, pk) for case, kind, pk in events if kind == EventKind.RAISED]
    if not raised:
        return
    subscribed = set(
        NotificationPreference.objects.filter(
            Q(by_email=True) | Q(by_webhook=True),
            organisation_id__in={case.supplier_id for case, _ in raised},
            event=NotificationEvent.CASE_RAISED,
            organisation__is_active=True,
        ).values_list("organisation_id", flat=True)
    )
    if subscribed:
        notifications_on_events(event_ids=[pk for case, pk in raised if case.supplier_id in subscribed])
