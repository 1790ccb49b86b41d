"""SLA clocks: start, pause, resume and stop them as cases move; warn, breach and escalate from beat.

Rules (docs/NOTIFICATIONS.md):

* Each case has up to four clocks: response and resolution, for DCC and for the User. A party's
  clocks start the first time the case waits on it (``MEHR["SLA_WAITING_ON"]`` maps states to the
  party) and run only while it waits on that party; otherwise they are paused (waiting on the other
  party, on the SMSO, or escalated).
* A response clock is met by the party's first action on the case (a note, a transition, an
  assignment, a checklist tick or an attachment by one of its people or systems).
* Every clock stops when the case finishes; a reopened case resumes its resolution clocks.
* Time is counted in working days on the England and Wales calendar plus DCC non-working days.
"""

from __future__ import annotations

import time as _time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import holidays
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from cases.domain import (
    DCC_ROLES,
    FINISHED_STATES,
    USER_ACTING_ROLES,
    CaseState,
    EventKind,
    Priority,
    Visibility,
)
from cases.models import Case, CaseEvent, NonWorkingDay, SlaClock, SlaInterval
from cases.models.sla import ClockKind, ClockParty
from cases.workdays import LONDON, WorkingCalendar, working_calendar

from .events import event_record

DAY = 86400.0
# Events by which a party responds (a RAISED event by a DCC system is not a response).
RESPONSE_EVENT_KINDS = frozenset(
    {EventKind.TRANSITION, EventKind.NOTE, EventKind.ASSIGNMENT, EventKind.CHECKLIST, EventKind.ATTACHMENT}
)
STOPPED_STATES = frozenset({*FINISHED_STATES, CaseState.CLOSED})

# --- the working calendar, cached per process (holidays + one query) --------------------------
_CALENDAR: tuple[float, WorkingCalendar] | None = None
_CALENDAR_TTL = 300.0


def sla_calendar() -> WorkingCalendar:
    global _CALENDAR
    if _CALENDAR is None or _time.monotonic() - _CALENDAR[0] > _CALENDAR_TTL:
        _CALENDAR = (_time.monotonic(), working_calendar())
    return _CALENDAR[1]


def _forget_calendar(**kwargs: Any) -> None:
    global _CALENDAR
    _CALENDAR = None


post_save.connect(_forget_calendar, sender=NonWorkingDay, dispatch_uid="sla_calendar_save")
post_delete.connect(_forget_calendar, sender=NonWorkingDay, dispatch_uid="sla_calendar_delete")


# --- reading a clock -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ClockView:
    """A clock as people read it, at a moment."""

    clock: SlaClock
    party: str
    kind: str
    status: str
    target_days: float
    elapsed_days: float
    remaining_days: float  # negative once breached
    breach_days: float  # how far past the target (0 when not breached)
    due_at: datetime | None
    breached: bool
    warning: bool

    @property
    def label(self) -> str:
        return f"{ClockParty(self.party).label} {ClockKind(self.kind).label.lower()}"

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.elapsed_days / self.target_days)) if self.target_days else 100


_HOLIDAY_WEEKDAYS: dict[tuple[int, int, frozenset[date]], list[date]] = {}


def _non_working_weekdays(cal: WorkingCalendar, first: date, last: date) -> list[date]:
    """Sorted weekdays in the years of [first, last] that are not working days (bank holidays, DCC days)."""
    key = (first.year, last.year, cal.extra_non_working)
    found = _HOLIDAY_WEEKDAYS.get(key)
    if found is None:
        bank = holidays.country_holidays("GB", subdiv="ENG", years=range(first.year, last.year + 1))
        found = sorted(d for d in {*bank.keys(), *cal.extra_non_working} if d.weekday() < 5)
        if len(_HOLIDAY_WEEKDAYS) > 64:
            _HOLIDAY_WEEKDAYS.clear()
        _HOLIDAY_WEEKDAYS[key] = found
    return found


def _weekdays(first: date, last: date) -> int:
    """Monday-Friday dates in [first, last]."""
    if last < first:
        return 0
    weeks, rest = divmod((last - first).days + 1, 7)
    start = first.weekday()
    return weeks * 5 + sum(1 for i in range(rest) if (start + i) % 7 < 5)


def working_seconds(cal: WorkingCalendar, start: datetime, end: datetime) -> float:
    """Same result as ``cal.working_seconds_between`` in O(log n) instead of a loop over every day:
    clocks can run for months. Every working day is exactly 24 h in London (clocks change on Sundays)."""
    if end <= start:
        return 0.0
    s, e = start.astimezone(LONDON), end.astimezone(LONDON)
    d0, d1 = s.date(), e.date()
    if d0 == d1:
        return (e - s).total_seconds() if cal.is_working_day(d0) else 0.0
    total = 0.0
    if cal.is_working_day(d0):
        total += (datetime.combine(d0 + timedelta(days=1), time.min, LONDON) - s).total_seconds()
    if cal.is_working_day(d1):
        total += (e - datetime.combine(d1, time.min, LONDON)).total_seconds()
    first, last = d0 + timedelta(days=1), d1 - timedelta(days=1)
    if first <= last:
        off = _non_working_weekdays(cal, first, last)
        full = _weekdays(first, last) - (bisect_right(off, last) - bisect_left(off, first))
        total += full * DAY
    return total


def clock_elapsed_seconds(clock: SlaClock, *, now: datetime, cal: WorkingCalendar | None = None) -> float:
    elapsed = clock.banked_seconds
    if clock.running_since is not None and now > clock.running_since:
        elapsed += working_seconds(cal or sla_calendar(), clock.running_since, now)
    return elapsed


def clock_view(clock: SlaClock, *, now: datetime | None = None, cal: WorkingCalendar | None = None) -> ClockView:
    now = now or timezone.now()
    target = float(clock.target_days)
    elapsed = clock_elapsed_seconds(clock, now=now, cal=cal) / DAY
    remaining = target - elapsed
    breached = clock.breached_at is not None or remaining <= 0
    warn_days = float(settings.MEHR["SLA_WARNING_WORKING_DAYS"])
    return ClockView(
        clock=clock,
        party=clock.party,
        kind=clock.kind,
        status=clock.status,
        target_days=target,
        elapsed_days=round(elapsed, 2),
        remaining_days=round(remaining, 2),
        breach_days=round(max(0.0, -remaining), 2),
        due_at=clock.due_at if clock.is_running else None,
        breached=breached,
        warning=not breached and clock.stopped_at is None and remaining <= warn_days,
    )


def sla_clocks_for_case(case: Case, *, now: datetime | None = None) -> list[ClockView]:
    """The case's clocks in a fixed order (DCC then User; response then resolution)."""
    order = {(ClockParty.DCC, ClockKind.RESPONSE): 0, (ClockParty.DCC, ClockKind.RESOLUTION): 1,
             (ClockParty.USER, ClockKind.RESPONSE): 2, (ClockParty.USER, ClockKind.RESOLUTION): 3}
    clocks = sorted(SlaClock.objects.filter(case=case), key=lambda c: order.get((c.party, c.kind), 9))
    cal = sla_calendar()
    return [clock_view(c, now=now, cal=cal) for c in clocks]


def cases_sla_breached(qs: QuerySet[Case], *, now: datetime | None = None, breached: bool = True) -> QuerySet[Case]:
    """Filter a case queryset to cases with (or without) a breached clock, even before beat notices."""
    now = now or timezone.now()
    # A correlated EXISTS, not `pk__in`: with it PostgreSQL can walk the queue's ordering index and
    # probe each case's clocks (unique (case, party, kind) index) until the page is full, instead of
    # hashing every breached clock and sorting the whole match (~340 ms per page at 1M cases).
    hit = Exists(
        SlaClock.objects.filter(case=OuterRef("pk")).filter(
            Q(breached_at__isnull=False) | Q(due_at__lte=now, stopped_at__isnull=True)
        )
    )
    return qs.filter(hit) if breached else qs.filter(~hit)


def with_sla_columns(qs: QuerySet[Case], *, now: datetime | None = None) -> QuerySet[Case]:
    """Annotate a page of cases with ``sla_breached`` and ``sla_due_at`` (the next running deadline)."""
    now = now or timezone.now()
    clocks = SlaClock.objects.filter(case=OuterRef("pk"))
    return qs.annotate(
        sla_breached=Exists(clocks.filter(Q(breached_at__isnull=False) | Q(due_at__lte=now, stopped_at__isnull=True))),
        sla_due_at=Subquery(clocks.filter(due_at__isnull=False).order_by("due_at").values("due_at")[:1]),
    )


# --- moving clocks with the case -----------------------------------------------------------------
def waiting_party(state: str) -> str:
    return settings.MEHR["SLA_WAITING_ON"].get(str(state), "")


def _target(case: Case, kind: str) -> Decimal:
    check = case.check_type
    days = check.sla_response_days if kind == ClockKind.RESPONSE else check.sla_resolution_days
    if days is None:
        days = settings.MEHR["DEFAULT_SLA_WORKING_DAYS"]
    return Decimal(days)


def _deadlines(clock: SlaClock, now: datetime, cal: WorkingCalendar) -> None:
    """Set due_at/warn_at of a running clock from its remaining working time."""
    remaining = float(clock.target_days) - clock.banked_seconds / DAY
    start = clock.running_since or now
    clock.due_at = cal.add_working_time(start, remaining) if remaining > 0 else start
    warn_days = float(settings.MEHR["SLA_WARNING_WORKING_DAYS"])
    if clock.warned_at is None:
        clock.warn_at = cal.add_working_time(start, remaining - warn_days) if remaining > warn_days else start


def _start_running(clock: SlaClock, now: datetime, cal: WorkingCalendar) -> None:
    clock.running_since = now
    _deadlines(clock, now, cal)
    SlaInterval.objects.create(clock=clock, started_at=now)


def _stop_running(clock: SlaClock, now: datetime, cal: WorkingCalendar, reason: str) -> None:
    if clock.running_since is not None:
        clock.banked_seconds = clock_elapsed_seconds(clock, now=now, cal=cal)
    clock.running_since = None
    clock.due_at = None
    clock.warn_at = None
    SlaInterval.objects.filter(clock=clock, ended_at__isnull=True).update(ended_at=now, end_reason=reason)


def _responder_party(event: CaseEvent) -> str:
    if event.kind not in RESPONSE_EVENT_KINDS:
        return ""
    if event.actor_role in DCC_ROLES:
        return ClockParty.DCC
    if event.actor_role in USER_ACTING_ROLES:
        return ClockParty.USER
    return ""


def sla_on_event(*, event: CaseEvent, now: datetime | None = None) -> list[str]:
    """Bring the case's clocks in line with its state after an event; called inside the event's
    transaction (the case row is already locked by the service). Records one SLA event if anything moved."""
    if event.kind in (EventKind.SLA, EventKind.NOTIFICATION):
        return []
    now = now or event.created_at or timezone.now()
    case = event.case
    state = str(case.state)
    party = waiting_party(state)
    stopped = state in STOPPED_STATES
    responder = _responder_party(event)
    clocks = {(c.party, c.kind): c for c in SlaClock.objects.select_for_update().filter(case=case)}
    if not clocks and not party:
        return []
    cal = sla_calendar()
    changes: list[str] = []
    for p in (ClockParty.DCC, ClockParty.USER):
        for kind in (ClockKind.RESPONSE, ClockKind.RESOLUTION):
            clock = clocks.get((p, kind))
            label = f"{ClockParty(p).label} {ClockKind(kind).label.lower()}"
            if clock is None:
                if p == party and not stopped and not (kind == ClockKind.RESPONSE and responder == p):
                    clock = SlaClock(case=case, party=p, kind=kind, target_days=_target(case, kind), started_at=now)
                    _deadlines(clock, now, cal)
                    clock.running_since = now
                    clock.save()
                    SlaInterval.objects.create(clock=clock, started_at=now)
                    changes.append(f"{label} clock started (target {clock.target_days:g} working days)")
                continue
            before = (clock.running_since, clock.stopped_at, clock.met_at)
            if kind == ClockKind.RESPONSE and responder == p and clock.met_at is None and clock.stopped_at is None:
                _stop_running(clock, now, cal, "met")
                clock.met_at = clock.stopped_at = now
                changes.append(f"{label} clock met")
            elif stopped:
                if clock.stopped_at is None:
                    _stop_running(clock, now, cal, "finished")
                    clock.stopped_at = now
                    changes.append(f"{label} clock stopped")
            elif p == party and clock.met_at is None:
                if clock.stopped_at is not None:  # reopened
                    clock.stopped_at = None
                    _start_running(clock, now, cal)
                    changes.append(f"{label} clock resumed (reopened)")
                elif clock.running_since is None:
                    _start_running(clock, now, cal)
                    changes.append(f"{label} clock resumed")
            elif clock.running_since is not None:
                _stop_running(clock, now, cal, "paused")
                changes.append(f"{label} clock paused")
            if (clock.running_since, clock.stopped_at, clock.met_at) != before:
                clock.updated_at = now
                clock.save()
    # Clocks starting with the case itself are implied by "Raised" (and kept as intervals); every
    # later start, pause, resume, met and stop is recorded on the case.
    if changes and event.kind != EventKind.RAISED:
        event_record(
            case=case,
            kind=EventKind.SLA,
            actor=None,
            body="; ".join(changes) + ".",
            visibility=Visibility.SHARED,
            data={"changes": changes, "state": state, "waiting_on": party},
        )
    return changes


# --- the beat task: warnings, breaches, escalation -------------------------------------------------
@dataclass
class ScanResult:
    warned: int = 0
    breached: int = 0
    escalated: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"warned": self.warned, "breached": self.breached, "escalated": self.escalated}


def _claim_cases(candidates: QuerySet[SlaClock], batch_size: int) -> tuple[list[Case], bool]:
    """Lock the cases of due clocks (case rows first, as every service does), skipping locked ones.
    Also says whether the batch was full (there may be more due clocks)."""
    case_ids = list(candidates.values_list("case_id", flat=True)[:batch_size])
    if not case_ids:
        return [], False
    cases = list(
        Case.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("check_type", "supplier")
        .filter(pk__in=set(case_ids))
        .order_by("pk")
    )
    return cases, len(case_ids) == batch_size


def sla_scan(*, now: datetime | None = None, batch_size: int | None = None) -> ScanResult:
    """Find clocks that breached or are about to (index scans on due_at / warn_at), record and act.

    Safe to run concurrently: cases are claimed with SKIP LOCKED, and each clock's breach/warning is
    recorded once (breached_at / warned_at). Batches commit one by one.
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.MEHR["SLA_SCAN_BATCH_SIZE"]
    result = ScanResult()
    notify_only = settings.MEHR["SLA_ESCALATION_MODE"] == "notify_only"
    cal = sla_calendar()
    for phase in ("breach", "warning"):
        while True:
            with transaction.atomic():
                due = (
                    SlaClock.objects.filter(breached_at__isnull=True, due_at__lte=now).order_by("due_at")
                    if phase == "breach"
                    else SlaClock.objects.filter(warned_at__isnull=True, warn_at__lte=now).order_by("warn_at")
                )
                cases, full = _claim_cases(due, batch_size)
                for case in cases:
                    clocks = list(due.filter(case=case).select_for_update())
                    raised = False  # several clocks breaching together raise the priority once
                    for clock in clocks:
                        if phase == "breach":
                            raised = _breach(case, clock, now, cal, notify_only, result, raised)
                        else:
                            _warn(case, clock, now, cal, result)
            # Stop when the batch was not full, or when every due case is locked by someone else
            # (the next tick will find them).
            if not full or not cases:
                break
    return result


def _warn(case: Case, clock: SlaClock, now: datetime, cal: WorkingCalendar, result: ScanResult) -> None:
    view = clock_view(clock, now=now, cal=cal)
    clock.warned_at = now
    clock.warn_at = None
    clock.updated_at = now
    clock.save(update_fields=["warned_at", "warn_at", "updated_at"])
    event_record(
        case=case,
        kind=EventKind.SLA,
        actor=None,
        body=f"SLA warning: {view.label} target of {view.target_days:g} working days "
        f"is due {timezone.localtime(clock.due_at):%a %d %b %Y %H:%M}." if clock.due_at else "SLA warning.",
        data={"action": "warning", "party": clock.party, "clock": clock.kind, "remaining_days": view.remaining_days,
              "due_at": clock.due_at.isoformat() if clock.due_at else None},
    )
    result.warned += 1


def _breach(
    case: Case, clock: SlaClock, now: datetime, cal: WorkingCalendar, notify_only: bool, result: ScanResult,
    already_raised: bool,
) -> bool:
    view = clock_view(clock, now=now, cal=cal)
    clock.breached_at = clock.due_at or now
    if clock.warned_at is None:
        clock.warned_at = now  # a breach supersedes its warning
        clock.warn_at = None
    actions = []
    if not notify_only and case.state not in STOPPED_STATES:
        clock.escalated_at = now
        if case.priority > Priority.CRITICAL and not already_raised:
            already_raised = True
            case.priority -= 1
            case.version += 1
            case.updated_at = now
            case.save(update_fields=["priority", "version", "updated_at"])
            actions.append(f"priority raised to {Priority(case.priority).label}")
        result.escalated += 1
    if clock.party == ClockParty.DCC:
        actions.append("DCC managers notified")
    clock.updated_at = now
    clock.save(update_fields=["breached_at", "warned_at", "warn_at", "escalated_at", "updated_at"])
    body = f"SLA breached: {view.label} target of {view.target_days:g} working days."
    if notify_only:
        body += " Notify-only mode: no escalation."
    if actions:
        text = "; ".join(actions)
        body += " " + text[0].upper() + text[1:] + "."
    event_record(
        case=case,
        kind=EventKind.SLA,
        actor=None,
        body=body,
        data={"action": "breach", "party": clock.party, "clock": clock.kind, "escalated": bool(clock.escalated_at),
              "priority": case.priority, "breached_at": clock.breached_at.isoformat()},
    )
    result.breached += 1
    return already_raised


def sla_recompute_running(*, now: datetime | None = None, batch_size: int = 2000) -> int:
    """Recompute the deadlines of running clocks after DCC non-working days change (a rare admin
    action; run by a task enqueued when a NonWorkingDay is saved or deleted)."""
    global _CALENDAR
    _CALENDAR = None
    now = now or timezone.now()
    cal = working_calendar()
    changed: list[SlaClock] = []
    count = 0
    for clock in SlaClock.objects.filter(running_since__isnull=False).only(
        "pk", "target_days", "banked_seconds", "running_since", "due_at", "warn_at", "warned_at"
    ).iterator(chunk_size=batch_size):
        due, warn = clock.due_at, clock.warn_at
        _deadlines(clock, now, cal)
        if (due, warn) != (clock.due_at, clock.warn_at):
            changed.append(clock)
        if len(changed) >= batch_size:
            SlaClock.objects.bulk_update(changed, ["due_at", "warn_at"])
            count += len(changed)
            changed = []
    if changed:
        SlaClock.objects.bulk_update(changed, ["due_at", "warn_at"])
        count += len(changed)
    return count


def _non_working_days_changed(**kwargs: Any) -> None:
    def enqueue() -> None:
        from cases.tasks import sla_recompute

        try:
            sla_recompute.delay()
        except Exception:  # broker down: deadlines move at the next change or by hand
            import logging

            logging.getLogger(__name__).warning("could not enqueue sla_recompute", exc_info=True)

    transaction.on_commit(enqueue)


post_save.connect(_non_working_days_changed, sender=NonWorkingDay, dispatch_uid="sla_recompute_save")
post_delete.connect(_non_working_days_changed, sender=NonWorkingDay, dispatch_uid="sla_recompute_delete")


__all__ = [
    "ClockView",
    "cases_sla_breached",
    "clock_view",
    "sla_calendar",
    "sla_clocks_for_case",
    "sla_on_event",
    "sla_recompute_running",
    "sla_scan",
    "waiting_party",
    "with_sla_columns",
]
