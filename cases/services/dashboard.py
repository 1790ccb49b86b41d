"""Dashboard rollups: rebuild the small summary tables the dashboard reads instead of aggregating
every open case (and every recent session attempt) on each page view.

``dashboard_rollup_rebuild`` runs from beat every ``MEHR["DASHBOARD_ROLLUP_INTERVAL_SECONDS"]``
(task ``cases.tasks.dashboard_rollup_rebuild``, reports queue). In one transaction it deletes the
rollup tables and refills them with ``INSERT … SELECT … GROUP BY`` straight from the source tables, then
stamps ``DashboardRollupState.built_at``: a reader (MVCC) sees either the previous complete
rollup or the new one, never a half. Rebuilds are serialised on the state row, so two overlapping
ticks cannot both insert. The dashboard uses the rollups only while they are younger than
``MEHR["DASHBOARD_ROLLUP_MAX_AGE_SECONDS"]`` (``dashboard_rollup_fresh``) and otherwise computes
the same figures live (cases.web.dashboard).

The SELECTs are the same ORM queries as the live dashboard's (compiled by Django, so they run on
PostgreSQL and SQLite alike); only the ``INSERT INTO … (columns)`` prefix is written by hand.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case as SqlCase
from django.db.models import CharField, Count, F, IntegerField, QuerySet, Sum, Value, When
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from cases.domain import OPEN_STATES
from cases.models import (
    Case,
    DashboardCaseRollup,
    DashboardCaseTotal,
    DashboardRetryRollup,
    DashboardRollupState,
    DashboardSupplierRollup,
)

# Age of open cases since raised, in calendar days: (upper bound exclusive, label). [design]
AGE_BUCKETS: tuple[tuple[int | None, str], ...] = (
    (1, "< 1 day"),
    (3, "1-2 days"),
    (6, "3-5 days"),
    (11, "6-10 days"),
    (21, "11-20 days"),
    (None, "> 20 days"),
)
# The retry outcome chart covers this many local days, today included. [design]
RETRY_CHART_DAYS = 14
# Session attempt end states the chart shows (retries.models.SessionState values).
RETRY_OUTCOMES = ("CONNECTED", "FAILED", "TIMED_OUT", "CANCELLED")

# Columns of DashboardCaseRollup in the order the SELECT below produces them.
CASE_DIMENSIONS = ("state", "stage", "category", "owner_party", "cohort", "installation_type", "age_bucket")


@dataclass(frozen=True)
class RollupBuild:
    built_at: datetime
    took_ms: int
    case_rows: int
    retry_rows: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "built_at": self.built_at.isoformat(),
            "took_ms": self.took_ms,
            "case_rows": self.case_rows,
            "retry_rows": self.retry_rows,
        }


def age_bucket_expression(now: datetime) -> SqlCase:
    """SQL CASE giving the index into AGE_BUCKETS of a case's ``raised_at`` as seen at ``now``."""
    whens = [
        When(raised_at__gt=now - timedelta(days=upper), then=Value(i))
        for i, (upper, _) in enumerate(AGE_BUCKETS)
        if upper is not None
    ]
    return SqlCase(*whens, default=Value(len(AGE_BUCKETS) - 1), output_field=IntegerField())


def retry_chart_first_day(now: datetime) -> date:
    return timezone.localdate(now) - timedelta(days=RETRY_CHART_DAYS - 1)


def open_cases_grouped(cases: QuerySet[Case], now: datetime) -> QuerySet:
    """Open cases of ``cases`` counted per supplier and every CASE_DIMENSIONS value (one GROUP BY)."""
    return (
        cases.filter(state__in=list(OPEN_STATES))
        # cohort and installation type are the case's own copies (no join to the installations).
        .annotate(age_bucket=age_bucket_expression(now))
        .values("supplier_id", *CASE_DIMENSIONS)
        .annotate(n=Count("id"))
        .order_by()
    )


def finished_attempts_grouped(now: datetime) -> QuerySet:
    """Finished session attempts per supplier, local day and outcome since the chart's first day."""
    from retries.models import SessionAttempt

    tz = timezone.get_current_timezone()
    since = datetime.combine(retry_chart_first_day(now), datetime.min.time(), tzinfo=tz)
    return (
        SessionAttempt.objects.filter(finished_at__gte=since, state__in=list(RETRY_OUTCOMES))
        .annotate(supplier_id=F("installation__responsible_supplier_id"), day=TruncDate("finished_at", tzinfo=tz))
        .values("supplier_id", "day", "state")
        .annotate(n=Count("id"))
        .order_by()
    )


def case_totals_grouped(dimension: str) -> QuerySet:
    """The case rollup summed per supplier and one dimension (read from the rollup, not from cases)."""
    return (
        DashboardCaseRollup.objects.annotate(dimension=Value(dimension, output_field=CharField()),
                                             value=Cast(dimension, output_field=CharField()))
        .values("supplier_id", "dimension", "value")
        .annotate(n=Sum("cases"))
        .order_by()
    )  # fmt: skip


def open_windows_grouped() -> QuerySet:
    """Migration windows scheduled or in progress, per supplier (the partial unique index
    migration_attempt_one_open holds exactly these rows)."""
    from retries.models import OPEN_MIGRATION_OUTCOMES, MigrationAttempt

    return (
        MigrationAttempt.objects.filter(outcome__in=list(OPEN_MIGRATION_OUTCOMES))
        .annotate(supplier_id=F("installation__responsible_supplier_id"))
        .values("supplier_id")
        .annotate(n=Count("id"))
        .order_by()
    )


def _insert_select(model: Any, columns: tuple[str, ...], select: QuerySet) -> int:
    """INSERT INTO model (columns) <select>; the SELECT's columns must come in the same order."""
    qn = connection.ops.quote_name
    sql, params = select.query.get_compiler(connection.alias).as_sql()
    target = ", ".join(qn(model._meta.get_field(name).column) for name in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {qn(model._meta.db_table)} ({target}) {sql}", params)
        return max(cursor.rowcount, 0)


def dashboard_rollup_rebuild(now: datetime | None = None) -> RollupBuild:
    """Replace every rollup table from the source tables in one transaction (idempotent).

    ``built_at`` is the start of the rebuild: each INSERT … SELECT reads a snapshot taken at or
    after it, so "as of" never claims more freshness than the figures have."""
    now = now or timezone.now()
    started = time.monotonic()
    with transaction.atomic():
        # Serialise rebuilds on the state row: two overlapping DELETE + INSERTs would otherwise
        # both insert (a DELETE does not see the other transaction's uncommitted rows).
        DashboardRollupState.objects.get_or_create(pk=DashboardRollupState.SINGLETON_PK, defaults={"built_at": now})
        state = DashboardRollupState.objects.select_for_update().get(pk=DashboardRollupState.SINGLETON_PK)
        if connection.vendor == "postgresql":
            # The GROUP BY sorts ~100k open cases per million; the default 4 MB work_mem spills
            # that to disk. Only for this transaction.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = '64MB'")
        # DELETE, not TRUNCATE: TRUNCATE's exclusive lock would block dashboard readers until commit.
        DashboardCaseRollup.objects.all().delete()
        DashboardCaseTotal.objects.all().delete()
        DashboardRetryRollup.objects.all().delete()
        DashboardSupplierRollup.objects.all().delete()
        case_rows = _insert_select(
            DashboardCaseRollup, ("supplier", *CASE_DIMENSIONS, "cases"), open_cases_grouped(Case.objects.all(), now)
        )
        for dimension in CASE_DIMENSIONS:
            _insert_select(
                DashboardCaseTotal, ("supplier", "dimension", "value", "cases"), case_totals_grouped(dimension)
            )
        retry_rows = _insert_select(
            DashboardRetryRollup, ("supplier", "day", "state", "attempts"), finished_attempts_grouped(now)
        )
        _insert_select(DashboardSupplierRollup, ("supplier", "open_windows"), open_windows_grouped())
        took_ms = round((time.monotonic() - started) * 1000)
        state.built_at = now
        state.took_ms = took_ms
        state.case_rows = case_rows
        state.retry_rows = retry_rows
        state.retry_since = retry_chart_first_day(now)
        state.save()
    return RollupBuild(built_at=now, took_ms=took_ms, case_rows=case_rows, retry_rows=retry_rows)


def dashboard_rollup_state() -> DashboardRollupState | None:
    return DashboardRollupState.objects.filter(pk=DashboardRollupState.SINGLETON_PK).first()


def dashboard_rollup_fresh(now: datetime | None = None) -> DashboardRollupState | None:
    """The rollup state when the rollups may be shown (built, and younger than the max age); else None."""
    now = now or timezone.now()
    state = dashboard_rollup_state()
    if state is None:
        return None
    max_age = timedelta(seconds=settings.MEHR["DASHBOARD_ROLLUP_MAX_AGE_SECONDS"])
    # A rollup "from the future" (clock change, or a rebuild with an explicit later now) is not trusted either.
    if not (now - max_age <= state.built_at <= now + timedelta(seconds=5)):
        return None
    # The retry rollup must cover the chart's first day (after midnight a new day enters the chart).
    if state.retry_since is None or state.retry_since > retry_chart_first_day(now):
        return None
    return state
