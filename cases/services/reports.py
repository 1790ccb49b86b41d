"""The daily migration exceptions report: one per User organisation and one for all Users (DCC).

Every figure comes from a handful of GROUP BY queries over the whole day, grouped by supplier as
well, so the per-User reports and the all-User one cost the same as one (no per-organisation or
per-case loops). Beat generates yesterday's reports shortly after midnight; re-running replaces them.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case as SqlCase
from django.db.models import Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from cases.domain import (
    OPEN_STATES,
    CaseState,
    MigrationStatus,
    OrganisationKind,
)
from cases.models import Case, CaseOccurrence, DailyReport, Installation, Organisation, SlaClock
from cases.workdays import LONDON

ALL = "ALL"
MIGRATED_STATUSES = (MigrationStatus.MIGRATED, MigrationStatus.PARTIALLY_MIGRATED)
PENDING_RETRY_STATES = (CaseState.RETRY_SCHEDULED, CaseState.RETRYING)


def day_window(day: date) -> tuple[datetime, datetime]:
    """Local (London) midnight to midnight, as aware datetimes."""
    start = datetime.combine(day, time.min, LONDON)
    end = datetime.combine(day + timedelta(days=1), time.min, LONDON)
    return start, end


def ageing_labels() -> list[str]:
    bounds = settings.MEHR["REPORT_AGEING_BUCKETS_DAYS"]
    labels = [f"<{bounds[0]}d"]
    labels += [f"{lo}-{hi}d" for lo, hi in pairwise(bounds)]
    labels.append(f"{bounds[-1]}d+")
    return labels


def _ageing_expression(as_of: datetime) -> SqlCase:
    bounds = settings.MEHR["REPORT_AGEING_BUCKETS_DAYS"]
    labels = ageing_labels()
    whens = [When(raised_at__gt=as_of - timedelta(days=b), then=Value(i)) for i, b in enumerate(bounds)]
    return SqlCase(*whens, default=Value(len(labels) - 1), output_field=IntegerField())


def _rows(qs: QuerySet, *keys: str, count: str = "n") -> Iterable[dict[str, Any]]:
    return qs.order_by().values(*keys).annotate(**{count: Count("pk")}).values(*keys, count)


def report_figures(day: date) -> dict[Any, dict[str, Any]]:
    """All figures of a day, keyed by supplier id (and ALL for the sum)."""
    start, end = day_window(day)
    labels = ageing_labels()
    per: dict[Any, dict[str, Any]] = defaultdict(_empty_figures)

    for r in _rows(Installation.objects.all(), "responsible_supplier_id", "migration_status"):
        per[r["responsible_supplier_id"]]["installations_by_status"][r["migration_status"]] = r["n"]
    # migrated_at is set once, when the installation first migrated (retries.services.running), and
    # has a partial index: a range scan of the day's migrations, not of every edited installation.
    for r in _rows(Installation.objects.filter(migrated_at__gte=start, migrated_at__lt=end), "responsible_supplier_id"):
        per[r["responsible_supplier_id"]]["migrated_on_day"] = r["n"]
    for r in _rows(Case.objects.filter(finished_at__gte=start, finished_at__lt=end), "supplier_id", "state"):
        per[r["supplier_id"]]["finished_on_day"][r["state"]] = r["n"]
    failed = (
        CaseOccurrence.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        .order_by()
        .values("case__supplier_id", "case__check_type__code", "case__stage")
        .annotate(occurrences=Count("pk"), installations=Count("case__installation_id", distinct=True))
    )
    for r in failed:
        per[r["case__supplier_id"]]["failed"].append(
            {"check_code": r["case__check_type__code"], "stage": r["case__stage"],
             "occurrences": r["occurrences"], "installations": r["installations"]}
        )
    for r in _rows(Case.objects.filter(raised_at__gte=start, raised_at__lt=end), "supplier_id"):
        per[r["supplier_id"]]["raised_on_day"] = r["n"]
    open_cases = Case.objects.filter(state__in=OPEN_STATES, raised_at__lt=end).annotate(bucket=_ageing_expression(end))
    for r in _rows(open_cases, "supplier_id", "state", "bucket"):
        states = per[r["supplier_id"]]["open_by_state"]
        states.setdefault(r["state"], dict.fromkeys(labels, 0))[labels[r["bucket"]]] = r["n"]
    for r in _rows(
        Case.objects.filter(state=CaseState.EXCLUSION_PROPOSED), "supplier_id", "excluded_category"
    ):
        per[r["supplier_id"]]["exclusion_proposed_by_category"][r["excluded_category"] or "-"] = r["n"]
    breached = (
        SlaClock.objects.filter(breached_at__gte=start, breached_at__lt=end)
        .order_by()
        .values("case__supplier_id", "party", "kind")
        .annotate(n=Count("pk"))
    )
    for r in breached:
        per[r["case__supplier_id"]]["sla_breached_on_day"][f"{r['party']} {r['kind']}"] = r["n"]
    open_breached = (
        Case.objects.filter(state__in=OPEN_STATES)
        .filter(pk__in=SlaClock.objects.filter(Q(breached_at__isnull=False) | Q(due_at__lte=end)).values("case_id"))
        .order_by()
        .values("supplier_id")
        .annotate(n=Count("pk"))
    )
    for r in open_breached:
        per[r["supplier_id"]]["sla_open_breached"] = r["n"]

    for figures in list(per.values()):
        _finish(figures)
    per[ALL] = _finish(_merge(list(per.values())))
    return per


def _empty_figures() -> dict[str, Any]:
    return {
        "installations_by_status": {},
        "migrated_on_day": 0,
        "finished_on_day": {},
        "raised_on_day": 0,
        "failed": [],
        "open_by_state": {},
        "exclusion_proposed_by_category": {},
        "sla_breached_on_day": {},
        "sla_open_breached": 0,
    }


def _merge(all_figures: list[dict[str, Any]]) -> dict[str, Any]:
    total = _empty_figures()
    failed: dict[tuple[str, str], dict[str, Any]] = {}
    for f in all_figures:
        for key in ("migrated_on_day", "raised_on_day", "sla_open_breached"):
            total[key] += f[key]
        for key in ("installations_by_status", "finished_on_day", "exclusion_proposed_by_category",
                    "sla_breached_on_day"):
            for k, v in f[key].items():
                total[key][k] = total[key].get(k, 0) + v
        for state, buckets in f["open_by_state"].items():
            target = total["open_by_state"].setdefault(state, dict.fromkeys(buckets, 0))
            for b, v in buckets.items():
                target[b] = target.get(b, 0) + v
        for row in f["failed"]:
            agg = failed.setdefault((row["check_code"], row["stage"]),
                                    {"check_code": row["check_code"], "stage": row["stage"],
                                     "occurrences": 0, "installations": 0})
            agg["occurrences"] += row["occurrences"]
            agg["installations"] += row["installations"]
    total["failed"] = list(failed.values())
    return total


def _finish(f: dict[str, Any]) -> dict[str, Any]:
    """Derived totals and a stable order."""
    f["failed"].sort(key=lambda r: (-r["occurrences"], r["check_code"], r["stage"]))
    f["failed_occurrences"] = sum(r["occurrences"] for r in f["failed"])
    f["failed_installations"] = sum(r["installations"] for r in f["failed"])
    f["installations_migrated"] = sum(f["installations_by_status"].get(s, 0) for s in MIGRATED_STATUSES)
    f["pending_retry"] = sum(sum(f["open_by_state"].get(s, {}).values()) for s in PENDING_RETRY_STATES)
    f["exclusion_proposed"] = sum(f["exclusion_proposed_by_category"].values())
    f["open_total"] = sum(sum(b.values()) for b in f["open_by_state"].values())
    f["sla_breached_on_day_total"] = sum(f["sla_breached_on_day"].values())
    f["ageing_buckets"] = ageing_labels()
    # States in lifecycle order for reading.
    order = {s: i for i, s in enumerate(CaseState.values)}
    f["open_by_state"] = dict(sorted(f["open_by_state"].items(), key=lambda kv: order.get(kv[0], 99)))
    return f


def reports_generate_daily(*, report_date: date | None = None, now: datetime | None = None) -> list[DailyReport]:
    """Generate (or regenerate) the reports of a day: yesterday by default."""
    now = now or timezone.now()
    day = report_date or (timezone.localtime(now, LONDON).date() - timedelta(days=1))
    figures = report_figures(day)
    users = list(Organisation.objects.filter(kind=OrganisationKind.USER, is_active=True))
    known = {o.pk for o in users}
    # A supplier deactivated later can still have figures; include it too.
    users += list(Organisation.objects.filter(pk__in=[k for k in figures if k != ALL and k not in known]))
    reports = []
    with transaction.atomic():
        for org in users:
            data = figures.get(org.pk) or _finish(_empty_figures())
            reports.append(_store(org, day, data, now))
        reports.append(_store(None, day, figures[ALL], now))
    return reports


def _store(org: Organisation | None, day: date, data: dict[str, Any], now: datetime) -> DailyReport:
    data = {**data, "date": day.isoformat(), "scope": org.code if org else ALL,
            "scope_name": org.name if org else "All Users"}
    report, _ = DailyReport.objects.update_or_create(
        organisation=org, report_date=day, defaults={"data": data, "generated_at": now}
    )
    return report


# --- reading -----------------------------------------------------------------------------------------
# Visibility lives with the other selectors (cases.selectors.daily_reports_visible_to).


CSV_HEADER = ["report_date", "scope", "section", "item", "detail", "value"]


def report_csv_rows(report: DailyReport) -> Iterator[list[Any]]:
    d = report.data
    base = [d.get("date", report.report_date.isoformat()), d.get("scope", "")]

    def row(section: str, item: Any, detail: Any, value: Any) -> list[Any]:
        return [*base, section, item, detail, value]

    yield row("summary", "installations_migrated", "", d.get("installations_migrated", 0))
    yield row("summary", "migrated_on_day", "", d.get("migrated_on_day", 0))
    yield row("summary", "raised_on_day", "", d.get("raised_on_day", 0))
    yield row("summary", "failed_occurrences", "", d.get("failed_occurrences", 0))
    yield row("summary", "failed_installations", "", d.get("failed_installations", 0))
    yield row("summary", "pending_retry", "", d.get("pending_retry", 0))
    yield row("summary", "exclusion_proposed", "", d.get("exclusion_proposed", 0))
    yield row("summary", "open_total", "", d.get("open_total", 0))
    yield row("summary", "sla_breached_on_day", "", d.get("sla_breached_on_day_total", 0))
    yield row("summary", "sla_open_breached", "", d.get("sla_open_breached", 0))
    for status, n in sorted(d.get("installations_by_status", {}).items()):
        yield row("installations_by_status", status, "", n)
    for state, n in sorted(d.get("finished_on_day", {}).items()):
        yield row("finished_on_day", state, "", n)
    for r in d.get("failed", []):
        yield row("failed_occurrences", r["check_code"], r["stage"], r["occurrences"])
        yield row("failed_installations", r["check_code"], r["stage"], r["installations"])
    for category, n in sorted(d.get("exclusion_proposed_by_category", {}).items()):
        yield row("exclusion_proposed", category, "", n)
    for state, buckets in d.get("open_by_state", {}).items():
        for bucket, n in buckets.items():
            yield row("open_by_state_age", state, bucket, n)
    for clock, n in sorted(d.get("sla_breached_on_day", {}).items()):
        yield row("sla_breached_on_day", clock, "", n)


def report_csv(reports: Iterable[DailyReport]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for report in reports:
        writer.writerows(report_csv_rows(report))
    return out.getvalue()
