"""Browser views for reports, the case CSV export, the exception-events import and notification
settings. Thin: they read through selectors and write through services."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.template.loader import select_template
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from cases.domain import DCC_ROLES, USER_ROLES, CaseState
from cases.errors import ServiceError
from cases.models import DailyReport, Organisation
from cases.models.notifications import NotificationEvent
from cases.roles import organisation_of, role_of
from cases.selectors import daily_reports_visible_to
from cases.services.export import cases_export_started
from cases.services.imports import exception_events_import
from cases.services.notifications import (
    PREFERENCE_MANAGER_ROLES,
    notification_preferences_get,
    notification_preferences_set,
)
from cases.services.reports import report_csv

from .common import browser_view
from .queue import QueueFilterForm, filtered_cases


def base_template() -> str:
    """The UI's base.html when it exists; a standalone page otherwise."""
    return select_template(["base.html", "reports/standalone.html"]).template.name


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {"base_template": base_template(), "is_dcc": role_of(request.user) in DCC_ROLES, **extra}


# --- the daily report ---------------------------------------------------------------------------
def report_for(user: Any, *, day: str | None, org_code: str | None) -> tuple[DailyReport | None, list[date]]:
    """The report a person asked for (their own organisation, or any/all for DCC), and the dates available."""
    qs = daily_reports_visible_to(user)
    if role_of(user) in DCC_ROLES:
        qs = qs.filter(organisation__code=org_code) if org_code and org_code != "ALL" else qs.filter(
            organisation__isnull=True)
    dates = list(qs.order_by("-report_date").values_list("report_date", flat=True)[:62])
    if day:
        try:
            wanted = date.fromisoformat(day)
        except ValueError as exc:
            raise Http404("Use a date as YYYY-MM-DD.") from exc
        report = qs.filter(report_date=wanted).first()
    else:
        report = qs.order_by("-report_date").first()
    return report, dates


def _chart(values: dict[str, int]) -> list[dict[str, Any]]:
    top = max(values.values(), default=0) or 1
    return [{"label": k, "value": v, "pct": round(100 * v / top)} for k, v in values.items()]


@login_required
@require_GET
def daily_report(request: HttpRequest) -> HttpResponse:
    report, dates = report_for(request.user, day=request.GET.get("date"), org_code=request.GET.get("org"))
    ctx = _context(request, report=report, dates=dates, org=request.GET.get("org", ""))
    if role_of(request.user) in DCC_ROLES:
        ctx["organisations"] = Organisation.objects.filter(daily_reports__isnull=False).distinct().order_by("code")
    if report is not None:
        d = report.data
        labels = dict(CaseState.choices)
        ctx["failed_chart"] = _chart({f"{r['check_code']} · {r['stage']}": r["occurrences"] for r in d["failed"][:15]})
        ctx["open_chart"] = _chart({labels.get(s, s): sum(b.values()) for s, b in d["open_by_state"].items()})
        ageing: dict[str, int] = dict.fromkeys(d["ageing_buckets"], 0)
        for buckets in d["open_by_state"].values():
            for b, n in buckets.items():
                ageing[b] = ageing.get(b, 0) + n
        ctx["ageing_chart"] = _chart(ageing)
        ctx["open_rows"] = [(labels.get(s, s), [b.get(x, 0) for x in d["ageing_buckets"]], sum(b.values()))
                            for s, b in d["open_by_state"].items()]
        ctx["sla_chart"] = _chart(d["sla_breached_on_day"])
    return render(request, "reports/daily.html", ctx)


@login_required
@require_GET
def daily_report_csv(request: HttpRequest) -> HttpResponse:
    report, _ = report_for(request.user, day=request.GET.get("date"), org_code=request.GET.get("org"))
    if report is None:
        raise Http404("No report for that day.")
    scope = report.organisation.code if report.organisation_id else "all-users"
    response = HttpResponse(report_csv([report]), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="mehr-exceptions-{scope}-{report.report_date}.csv"'
    return response


# --- streaming export of a filtered queue ----------------------------------------------------------
@require_GET
@browser_view
def cases_export(request: HttpRequest) -> HttpResponse:
    """The queue's own filters (the same form and query), streamed: what you see is what you get."""
    form = QueueFilterForm({k: v for k, v in request.GET.items() if k != "page"} or None,
                           actor=request.actor)  # type: ignore[attr-defined]
    if form.is_bound and not form.is_valid():
        lines = [f"{name}: {' '.join(errs)}" for name, errs in form.errors.items()]
        return HttpResponse("\n".join(lines), status=400, content_type="text/plain; charset=utf-8")
    qs, _ = filtered_cases(request.actor, form.cleaned_data if form.is_bound else {})  # type: ignore[attr-defined]
    # Started before answering: a database error becomes an error page, not a 200 stream cut short.
    response = StreamingHttpResponse(cases_export_started(qs), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="mehr-cases-{timezone.now():%Y%m%d-%H%M}.csv"'
    return response


# --- CSV import of exception events ---------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def import_exception_events(request: HttpRequest) -> HttpResponse:
    if role_of(request.user) not in DCC_ROLES:
        raise Http404("No such page.")
    ctx = _context(request, report=None, error="")
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            ctx["error"] = "Choose a CSV file."
        else:
            try:
                ctx["report"] = exception_events_import(
                    content=upload.read(), actor=request.user, dry_run=request.POST.get("action") != "import",
                    file_name=upload.name,
                )
            except ServiceError as exc:
                ctx["error"] = exc.message
    status = 400 if ctx["error"] or (ctx["report"] is not None and not ctx["report"].ok) else 200
    return render(request, "reports/import.html", ctx, status=status)


# --- notification settings of one's organisation ------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    role = role_of(request.user)
    org = organisation_of(request.user)
    if org is None or role not in (PREFERENCE_MANAGER_ROLES | USER_ROLES | DCC_ROLES):
        raise Http404("No such page.")
    may_edit = role in PREFERENCE_MANAGER_ROLES
    errors: dict[str, list[str]] = {}
    saved = False
    if request.method == "POST":
        if not may_edit:
            return HttpResponse("Your role may not change notifications.", status=403)
        events = {e: {"email": f"{e}:email" in request.POST, "webhook": f"{e}:webhook" in request.POST}
                  for e in NotificationEvent.values}
        secret = request.POST.get("webhook_secret", "")
        try:
            notification_preferences_set(
                organisation=org, actor=request.user, events=events,
                email_recipients=request.POST.get("email_recipients", ""),
                webhook_url=request.POST.get("webhook_url", "").strip(),
                webhook_secret=secret if secret else None,
            )
            saved = True
        except ServiceError as exc:
            errors = exc.errors or {"__all__": [exc.message]}
    prefs = notification_preferences_get(organisation=org)
    if errors:  # show what was typed
        prefs["email_recipients"] = request.POST.get("email_recipients", "")
        prefs["webhook_url"] = request.POST.get("webhook_url", "")
        for e in prefs["events"]:
            prefs["events"][e]["email"] = f"{e}:email" in request.POST
            prefs["events"][e]["webhook"] = f"{e}:webhook" in request.POST
    return render(request, "reports/notifications.html",
                  _context(request, prefs=prefs, organisation=org, errors=errors, saved=saved, may_edit=may_edit),
                  status=400 if errors else 200)


urlpatterns = [
    path("reports/daily/", daily_report, name="reports-daily"),
    path("reports/daily.csv", daily_report_csv, name="reports-daily-csv"),
    path("cases/export.csv", cases_export, name="cases-export-csv"),
    path("imports/exception-events/", import_exception_events, name="import-exception-events"),
    path("settings/notifications/", notification_settings, name="notification-settings"),
]
