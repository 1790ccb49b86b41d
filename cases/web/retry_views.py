"""Retry data on the screens (issue 3's engine): attempts on installation and case pages, the
attempts chart, DCC's schedule / cancel / pause / resume buttons, and the dashboard's retry charts.

Reads go through retries.selectors (a User sees only its own installations' attempts); writes go
through retries.services (which authorise: only DCC may schedule, cancel, pause or resume).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from cases.errors import NotPermitted, ServiceError
from cases.models import DashboardRollupState, Installation
from cases.selectors import (
    dashboard_retry_rollup_visible_to,
    dashboard_supplier_rollup_visible_to,
    installations_visible_to,
)
from cases.services.dashboard import RETRY_CHART_DAYS
from retries.models import (
    OPEN_MIGRATION_OUTCOMES,
    MigrationAttempt,
    PauseScope,
    RetryPause,
    SessionAttempt,
    SessionState,
)
from retries.selectors import (
    migration_attempts_visible_to,
    retry_pauses_visible_to,
    session_attempts_visible_to,
)
from retries.services import (
    due_backlog_lag_seconds,
    installation_retry_cancel,
    migration_schedule,
    retries_pause,
    retries_resume,
)

from .charts import ColumnChart, SeriesPoint
from .common import Actor, browser_view, not_found

OUTCOME_SERIES = [
    (SessionState.CONNECTED, "Connected"),
    (SessionState.FAILED, "Failed"),
    (SessionState.TIMED_OUT, "Timed out"),
    (SessionState.CANCELLED, "Cancelled"),
]
CHART_DAYS = RETRY_CHART_DAYS  # [design] how many days the retry charts cover (the rollup keeps as many)
SESSION_ROWS = 100  # newest session attempts listed on an installation page


def _days(end: datetime, days: int) -> list:
    today = timezone.localdate(end)
    return [today - timedelta(days=i) for i in range(days - 1, -1, -1)]


def _outcome_columns(rows: Any, title: str, end: datetime, days: int) -> ColumnChart:
    """One column per day (days without attempts included) from (day, state, n) rows."""
    per_day: dict[Any, dict[str, int]] = defaultdict(dict)
    for row in rows:
        per_day[row["day"]][row["state"]] = row["n"]
    points = [SeriesPoint(day.strftime("%-d %b"), per_day.get(day, {})) for day in _days(end, days)]
    return ColumnChart(title, OUTCOME_SERIES, points)


def _outcome_chart(qs: Any, title: str, end: datetime, days: int) -> ColumnChart:
    """Finished session attempts per day by outcome, aggregated in SQL (one GROUP BY)."""
    since = end - timedelta(days=days)
    rows = (
        qs.filter(finished_at__gte=since, state__in=[k for k, _ in OUTCOME_SERIES])
        .annotate(day=TruncDate("finished_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "state")
        .annotate(n=Count("id"))
        .order_by()
    )
    return _outcome_columns(rows, title, end, days)


def installation_retry_context(installation: Installation, user: Any, actor: Actor | None) -> dict[str, Any]:
    attempts = list(
        migration_attempts_visible_to(user)
        .filter(installation=installation)
        .select_related("failure_check", "requested_by")
        .annotate(
            sessions=Count("session_attempts"),
            connected=Count("session_attempts", filter=Q(session_attempts__state=SessionState.CONNECTED)),
        )
        .order_by("-number")
    )
    sessions = list(
        session_attempts_visible_to(user)
        .filter(installation=installation)
        .select_related("migration_attempt")
        .order_by("-due_at", "-id")[:SESSION_ROWS]
    )
    now = timezone.now()
    first = min((a.created_at for a in attempts), default=now)
    days = max(7, min(60, (now - first).days + 2))
    chart = _outcome_chart(
        session_attempts_visible_to(user).filter(installation=installation),
        f"Session attempts per day, last {days} days",
        now,
        days,
    )
    pauses = list(
        retry_pauses_visible_to(user)
        .filter(is_active=True)
        .filter(
            Q(scope=PauseScope.GLOBAL)
            | Q(scope=PauseScope.COHORT, cohort=installation.cohort)
            | Q(scope=PauseScope.INSTALLATION, installation=installation)
        )
        .select_related("paused_by")
    )
    own_pause = next((p for p in pauses if p.scope == PauseScope.INSTALLATION), None)
    open_attempt = next((a for a in attempts if a.is_open), None)
    return {
        "attempts": attempts,
        "sessions": sessions,
        "attempt_chart": chart,
        "pauses": pauses,
        "own_pause": own_pause,
        "open_attempt": open_attempt,
        "may_operate": bool(actor and actor.is_dcc_staff),
    }


def _installation(request: HttpRequest, pk: int) -> Installation:
    installation = installations_visible_to(request.user).filter(pk=pk).first()
    if installation is None:
        raise not_found()
    return installation


def _run(request: HttpRequest, pk: int, action: Any, success: str) -> HttpResponse:
    """Call a retry service; NotPermitted → 403, other refusals → a message on the page."""
    installation = _installation(request, pk)
    actor: Actor = request.actor  # type: ignore[attr-defined]
    if not actor.is_dcc_staff:
        raise PermissionDenied("Only DCC staff schedule, cancel, pause or resume retries.")
    try:
        result = action(installation)
    except NotPermitted as exc:
        raise PermissionDenied(exc.message) from exc
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success.format(result=result))
    return redirect(f"/installations/{installation.pk}/#retries")


@require_POST
@browser_view
def retry_schedule_view(request: HttpRequest, pk: int) -> HttpResponse:
    raw = request.POST.get("window_start", "").strip()
    window_start = None
    if raw:
        parsed = parse_datetime(raw)
        if parsed is None:
            messages.error(request, "The window start is not a date and time.")
            return redirect(f"/installations/{pk}/#retries")
        window_start = timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
    reason = request.POST.get("reason", "").strip()
    return _run(
        request,
        pk,
        lambda inst: migration_schedule(installation=inst, actor=request.user, window_start=window_start, reason=reason),
        "Migration attempt {result.number} scheduled.",
    )


@require_POST
@browser_view
def retry_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    reason = request.POST.get("reason", "")
    return _run(
        request,
        pk,
        lambda inst: installation_retry_cancel(installation=inst, actor=request.user, reason=reason),
        "Pending retries cancelled ({result} session attempt(s)).",
    )


@require_POST
@browser_view
def retry_pause_view(request: HttpRequest, pk: int) -> HttpResponse:
    reason = request.POST.get("reason", "")
    return _run(
        request,
        pk,
        lambda inst: retries_pause(scope=PauseScope.INSTALLATION, installation=inst, actor=request.user, reason=reason),
        "Retries paused for this installation.",
    )


@require_POST
@browser_view
def retry_resume_view(request: HttpRequest, pk: int) -> HttpResponse:
    reason = request.POST.get("reason", "")
    return _run(
        request,
        pk,
        lambda inst: retries_resume(scope=PauseScope.INSTALLATION, installation=inst, actor=request.user, reason=reason),
        "Retries resumed for this installation.",
    )


# --- dashboard ------------------------------------------------------------------------------------
def _rollup_outcome_chart(user: Any, title: str, end: datetime, days: int) -> ColumnChart:
    """The same chart from the beat-built per-day rollup (a few hundred rows, not 2M attempts)."""
    first_day = _days(end, days)[0]
    rows = (
        dashboard_retry_rollup_visible_to(user)
        .filter(day__gte=first_day, state__in=[k for k, _ in OUTCOME_SERIES])
        .values("day", "state")
        .annotate(n=Sum("attempts"))
        .order_by()
    )
    return _outcome_columns(rows, title, end, days)


def _open_windows(user: Any, actor: Actor, rollup: DashboardRollupState | None) -> int:
    """Migration windows scheduled or running. From the rollup when fresh: counted live for one User
    at 1M installations the planner merge-joins the whole installation table (~300 ms)."""
    if rollup is not None:
        return dashboard_supplier_rollup_visible_to(user).aggregate(n=Sum("open_windows"))["n"] or 0
    if actor.is_dcc:
        return MigrationAttempt.objects.filter(outcome__in=OPEN_MIGRATION_OUTCOMES).count()
    return migration_attempts_visible_to(user).filter(outcome__in=OPEN_MIGRATION_OUTCOMES).count()


DUE_COUNT_CAP = 10_001  # the page shows "10000+" beyond this


def _due_count(user: Any, actor: Actor, visible_due: Any, now: datetime) -> int:
    """Session attempts due and not yet claimed that the caller may see, counted up to the cap."""
    if actor.is_dcc:
        return visible_due.order_by()[:DUE_COUNT_CAP].count()
    # A User's share: walk the whole backlog through its partial index (small while the engine keeps
    # up) and keep the User's installations, through their selector. Joined the other way round,
    # PostgreSQL may merge-join every installation of the User (~500k at 5M cases: 100 ms) to find a
    # few thousand due attempts. A backlog past the cap counts the slow way.
    backlog = list(
        SessionAttempt.objects.filter(state=SessionState.SCHEDULED, due_at__lte=now)
        .order_by().values_list("installation_id", flat=True)[:DUE_COUNT_CAP]
    )  # fmt: skip
    if len(backlog) >= DUE_COUNT_CAP:
        return visible_due.order_by()[:DUE_COUNT_CAP].count()
    per_installation = Counter(backlog)
    mine = installations_visible_to(user).filter(pk__in=list(per_installation)).values_list("pk", flat=True)
    return sum(per_installation[pk] for pk in mine)


def dashboard_retry_context(
    user: Any, actor: Actor, *, now: datetime | None = None, rollup: DashboardRollupState | None = None
) -> dict[str, Any]:
    """Retry outcomes (from the rollup when the caller has a fresh one, else live) and the due backlog."""
    now = now or timezone.now()
    visible = SessionAttempt.objects.all() if actor.is_dcc else session_attempts_visible_to(user)
    title = f"Session attempt outcomes, last {CHART_DAYS} days"
    if rollup is not None:
        chart = _rollup_outcome_chart(user, title, now, CHART_DAYS)
    else:
        chart = _outcome_chart(visible, title, now, CHART_DAYS)
    totals = {key: sum(c["parts"][i]["value"] for c in chart.columns) for i, (key, _) in enumerate(OUTCOME_SERIES)}
    finished = sum(v for k, v in totals.items() if k != SessionState.CANCELLED)
    due = visible.filter(state=SessionState.SCHEDULED, due_at__lte=now)
    oldest_due = due.order_by("due_at").values_list("due_at", flat=True).first()
    backlog = {
        # The engine's own figure (what beat is behind by, pauses excluded) for DCC; Users see their share.
        "lag_seconds": due_backlog_lag_seconds(now) if actor.is_dcc else (
            max(0.0, (now - oldest_due).total_seconds()) if oldest_due else 0.0
        ),
        "due_count": _due_count(user, actor, due, now),
        "paused": RetryPause.objects.filter(is_active=True).count() if actor.is_dcc else None,
        "open_windows": _open_windows(user, actor, rollup),
    }
    return {
        "retry_chart": chart,
        "retry_totals": totals,
        "retry_success_rate": round(100.0 * totals[SessionState.CONNECTED] / finished) if finished else None,
        "backlog": backlog,
    }
