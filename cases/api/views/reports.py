"""SLA clocks of a case, daily reports, the streaming case export, the exception-events CSV import and
notification preferences (issue 6). Thin: selectors to read, services to write; the API's token
authentication, per-token throttling and problem details (cases.api.views.base)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import django_filters as df
from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from cases.api.filters import ApiFilterSet
from cases.api.problems import problem, problem_response
from cases.api.serializers.reports import (
    ORGANISATION_CODE_PATTERN,
    ClockSerializer,
    DailyReportSerializer,
    ImportReportSerializer,
    ImportUploadSerializer,
    PreferencesReadSerializer,
    PreferencesSerializer,
)
from cases.api.views.base import ApiView, CaseScopedMixin
from cases.domain import DCC_ROLES, CaseState, Category, Party, Priority, Stage
from cases.errors import NotFound, NotPermitted
from cases.models import DailyReport, Organisation
from cases.queue_filters import cases_filter
from cases.roles import organisation_of, role_of
from cases.selectors import cases_visible_to, daily_reports_visible_to, organisations_visible_to
from cases.services.export import cases_export_started
from cases.services.imports import exception_events_import
from cases.services.notifications import (
    PREFERENCE_MANAGER_ROLES,
    notification_preferences_get,
    notification_preferences_set,
)
from cases.services.reports import report_csv
from cases.services.sla import sla_clocks_for_case

ALL = "ALL"
_CODE = re.compile(ORGANISATION_CODE_PATTERN)


def _sees_all(user: Any) -> bool:
    return role_of(user) in DCC_ROLES


def organisation_param(request: Request) -> str | None:
    """`?organisation=`: None when absent; a stored code's shape (or ALL) else 400, before any query."""
    raw = request.query_params.get("organisation")
    if raw in (None, ""):
        return None
    if not _CODE.search(raw):
        raise ValidationError({"organisation": ["An organisation code (letters, digits, - and _; up to 32) or ALL."]})
    return raw


ORGANISATION_PARAM = OpenApiParameter(
    "organisation",
    {"type": "string", "pattern": ORGANISATION_CODE_PATTERN},
    description="DCC: an organisation code for that User's report(s), or `ALL` for the all-User report. A User "
    "may give only its own code (any other matches nothing).",
)
DAY_PARAM = OpenApiParameter("day", OpenApiTypes.DATE, OpenApiParameter.PATH, description="The report's day.")


# --- SLA clocks of a case -------------------------------------------------------------------------
@extend_schema(tags=["sla"], responses=ClockSerializer(many=True))
class CaseSlaView(ApiView, CaseScopedMixin):
    """The case's SLA clocks, as DCC and the User read them (DCC then User; response then resolution)."""

    pagination_class = None

    def get(self, request: Request, reference: str) -> Response:
        return Response(ClockSerializer(sla_clocks_for_case(self.get_case()), many=True).data)


# --- daily reports ----------------------------------------------------------------------------------
def _scope(qs: QuerySet[DailyReport], code: str | None) -> QuerySet[DailyReport]:
    """Narrow visible reports to `?organisation=`: ALL is the all-User report, a code one User's."""
    if code is None:
        return qs
    if code == ALL:
        return qs.filter(organisation__isnull=True)
    return qs.filter(organisation__code=code)


class DailyReportFilter(ApiFilterSet):
    date = df.DateFilter(field_name="report_date", help_text="Only this day's reports (YYYY-MM-DD).")
    date_from = df.DateFilter(field_name="report_date", lookup_expr="gte", help_text="Reports from this day on.")
    date_to = df.DateFilter(field_name="report_date", lookup_expr="lte", help_text="Reports up to this day.")

    class Meta:
        model = DailyReport
        fields: list[str] = []


@extend_schema(tags=["reports"], parameters=[ORGANISATION_PARAM])
class DailyReportListView(ApiView, generics.ListAPIView):
    """Daily migration exceptions reports you may see, newest day first: a User its own organisation's;
    DCC every User's and the all-User report (`organisation=ALL`)."""

    serializer_class = DailyReportSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = DailyReportFilter
    ordering_fields = ("report_date", "generated_at", "id")
    default_ordering = "-report_date"

    def get_queryset(self) -> QuerySet[DailyReport]:
        if getattr(self, "swagger_fake_view", False):
            return DailyReport.objects.none()
        code = organisation_param(self.request)
        return _scope(daily_reports_visible_to(self.request.user), code)


class DailyReportDayMixin:
    request: Any

    def get_report(self, day: str) -> DailyReport:
        """One day's report: yours; DCC's is the all-User one unless `?organisation=` names a User."""
        try:
            wanted = date.fromisoformat(day)
        except ValueError as exc:
            raise ValidationError({"day": ["Use a date as YYYY-MM-DD."]}) from exc
        user = self.request.user
        code = organisation_param(self.request)
        if code is None and _sees_all(user):
            code = ALL
        report = _scope(daily_reports_visible_to(user), code).filter(report_date=wanted).first()
        if report is None:
            raise NotFound(f"No report for {wanted.isoformat()}.")
        return report


@extend_schema(tags=["reports"], parameters=[DAY_PARAM, ORGANISATION_PARAM])
class DailyReportDetailView(DailyReportDayMixin, ApiView):
    """One day's report: yours (a User), or for DCC the all-User report unless `organisation` is given."""

    serializer_class = DailyReportSerializer

    def get(self, request: Request, day: str) -> Response:
        return Response(DailyReportSerializer(self.get_report(day)).data)


@extend_schema(
    tags=["reports"],
    parameters=[DAY_PARAM, ORGANISATION_PARAM],
    responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="report_date, scope, section, "
                                                  "item, detail, value: one row per figure.")},
)
class DailyReportCsvView(DailyReportDayMixin, ApiView):
    """One day's report as CSV (the same figures as the JSON, one row per figure)."""

    def get(self, request: Request, day: str) -> HttpResponse:
        report = self.get_report(day)
        scope = report.organisation.code if report.organisation_id else "all-users"
        response = HttpResponse(report_csv([report]), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="mehr-exceptions-{scope}-{report.report_date}.csv"'
        return response


# --- streaming export ---------------------------------------------------------------------------
def _choices(name: str, values: list[str], text: str) -> OpenApiParameter:
    return OpenApiParameter(name, {"type": "array", "items": {"type": "string", "enum": values}},
                            description=f"{text} Repeat (or separate with commas) for several.", explode=True)


def _strings(name: str, text: str) -> OpenApiParameter:
    return OpenApiParameter(name, {"type": "array", "items": {"type": "string"}},
                            description=f"{text} Repeat (or separate with commas) for several.", explode=True)


EXPORT_PARAMS = [
    _choices("state", list(CaseState.values), "Case state."),
    _choices("stage", list(Stage.values), "Stage."),
    _choices("category", list(Category.values), "Category."),
    _choices("priority", [str(p) for p in Priority.values], "Priority (1 critical … 4 low)."),
    _choices("owner_party", list(Party.values), "Party that owns the case."),
    _strings("supplier", "Supplier organisation code (a User only ever gets its own cases)."),
    _strings("check", "Check code, e.g. CM001."),
    _strings("assignee", "Assignee username."),
    OpenApiParameter("sla", {"type": "string", "enum": ["breached", "ok"]},
                     description="breached: a clock is breached or past due; ok: none is."),
    OpenApiParameter("q", str, description="A case reference (MEHR-000123), an MPAN or an MPRN."),
    OpenApiParameter("raised_from", OpenApiTypes.DATE, description="Raised on or after this day (London)."),
    OpenApiParameter("raised_to", OpenApiTypes.DATE, description="Raised on or before this day (London)."),
]


@extend_schema(
    tags=["cases"],
    parameters=EXPORT_PARAMS,
    responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="Header row, then one row per "
                                                  "case (any number, streamed; ordered by id).")},
)
class CaseExportView(ApiView):
    """Stream the filtered case queue you may see as CSV, at any size (PostgreSQL COPY; flat memory).
    The same filters as the queue's export in the UI."""

    throttle_scope = "export"

    def get(self, request: Request) -> StreamingHttpResponse:
        qs = cases_filter(cases_visible_to(request.user), request.query_params)
        # Started before answering: an error becomes a problem response, not a 200 stream cut short.
        response = StreamingHttpResponse(cases_export_started(qs), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="mehr-cases-{timezone.now():%Y%m%d-%H%M}.csv"'
        return response


# --- CSV import ----------------------------------------------------------------------------------------
@extend_schema(
    tags=["ingestion"],
    request={"multipart/form-data": ImportUploadSerializer},
    responses={200: OpenApiResponse(ImportReportSerializer, description="Dry run passed, or the file was imported.")},
)
class ImportView(ApiView):
    """Import exception events from CSV (DCC roles): a dry run by default (what would be created, per-row
    errors), then `dry_run=false` imports the whole file or nothing; replaying a file changes nothing.
    A file with errors answers 400 with the same report inside the problem details."""

    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "ingest"

    def post(self, request: Request) -> Response:
        upload = ImportUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        report = exception_events_import(content=file.read(), actor=request.user,
                                         dry_run=upload.validated_data["dry_run"], file_name=file.name or "")
        body = report.as_dict()
        if report.ok:
            return Response(body, status=status.HTTP_200_OK)
        errors: dict[str, list[str]] = {}
        if report.file_errors:
            errors["file"] = list(report.file_errors)
        for row in body["rows"]:
            for name, messages in row["errors"].items():
                errors[f"rows.{row['line']}.{name}"] = list(messages)
        bad = sum(1 for r in body["rows"] if r["errors"])
        detail = (f"{bad} row(s) have errors" if bad else "The file is not valid") + "; nothing was written."
        return problem_response(problem(400, "import_invalid", detail, errors=errors, instance=request.path,
                                        extra=body))


# --- notification preferences ------------------------------------------------------------------------
@extend_schema(tags=["notifications"], parameters=[OpenApiParameter(
    "organisation", {"type": "string", "pattern": ORGANISATION_CODE_PATTERN},
    description="DCC: whose preferences (default: your own organisation's). A User may give only its own code.")])
class PreferencesView(ApiView):
    """Which events your organisation hears about, and how (email and/or a signed webhook)."""

    parser_classes = [JSONParser]
    serializer_class = PreferencesReadSerializer

    def _organisation(self, request: Request) -> Organisation:
        code = organisation_param(request)
        own = organisation_of(request.user)
        if code is None or (own is not None and code == own.code):
            org = own
        elif _sees_all(request.user):
            org = organisations_visible_to(request.user).filter(code=code).first()
        else:
            org = None  # another User's: as if it did not exist
        if org is None:
            raise NotFound("No such organisation.")
        return org

    @extend_schema(responses=PreferencesReadSerializer)
    def get(self, request: Request) -> Response:
        return Response(notification_preferences_get(organisation=self._organisation(request)))

    @extend_schema(request=PreferencesSerializer, responses=PreferencesReadSerializer)
    def put(self, request: Request) -> Response:
        org = self._organisation(request)
        # The service decides; asking first keeps a viewer's answer 403 whatever the body holds.
        if role_of(request.user) not in PREFERENCE_MANAGER_ROLES:
            raise NotPermitted("You may not change this organisation's notifications.")
        data = PreferencesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return Response(notification_preferences_set(
            organisation=org, actor=request.user, events=dict(v["events"]),
            email_recipients=v.get("email_recipients"), webhook_url=v.get("webhook_url"),
            webhook_secret=v.get("webhook_secret") or None,
        ))
