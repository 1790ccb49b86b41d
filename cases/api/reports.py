"""REST endpoints for SLA clocks, daily reports, the streaming case export, the exception-events
import and notification preferences. Thin: selectors to read, services to write."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.domain import DCC_ROLES
from cases.errors import NotFound, ServiceError, ValidationFailed
from cases.models import DailyReport, Organisation
from cases.queue_filters import FILTER_PARAMS, cases_filter
from cases.roles import organisation_of, role_of
from cases.selectors import case_get_visible, cases_visible_to
from cases.services.export import cases_export_csv
from cases.services.imports import exception_events_import
from cases.services.notifications import notification_preferences_get, notification_preferences_set
from cases.services.reports import daily_reports_visible_to, report_csv
from cases.services.sla import sla_clocks_for_case


def problem(exc: ServiceError) -> Response:
    return Response({"code": exc.code, "detail": exc.message, "errors": exc.errors}, status=exc.status)


class ServiceErrorsMixin:
    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, ServiceError):
            return problem(exc)
        return super().handle_exception(exc)  # type: ignore[misc]


# --- SLA clocks of a case -----------------------------------------------------------------------------
class ClockSerializer(serializers.Serializer):
    party = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    target_days = serializers.FloatField()
    elapsed_days = serializers.FloatField()
    remaining_days = serializers.FloatField()
    breach_days = serializers.FloatField()
    breached = serializers.BooleanField()
    warning = serializers.BooleanField()
    due_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(source="clock.started_at")
    met_at = serializers.DateTimeField(source="clock.met_at", allow_null=True)
    breached_at = serializers.DateTimeField(source="clock.breached_at", allow_null=True)
    stopped_at = serializers.DateTimeField(source="clock.stopped_at", allow_null=True)


class CaseSlaView(ServiceErrorsMixin, APIView):
    @extend_schema(summary="SLA clocks of a case (DCC and User; response and resolution)",
                   responses=ClockSerializer(many=True), tags=["SLA"])
    def get(self, request: Request, reference: str) -> Response:
        case = case_get_visible(user=request.user, reference=reference)
        return Response(ClockSerializer(sla_clocks_for_case(case), many=True).data)


# --- daily reports --------------------------------------------------------------------------------------
class DailyReportSerializer(serializers.ModelSerializer):
    scope = serializers.SerializerMethodField()

    class Meta:
        model = DailyReport
        fields = ["report_date", "scope", "generated_at", "data"]

    def get_scope(self, obj: DailyReport) -> str:
        return obj.organisation.code if obj.organisation_id else "ALL"


def _report_scope(request: Request) -> Any:
    qs = daily_reports_visible_to(request.user)
    code = request.query_params.get("organisation")
    if role_of(request.user) in DCC_ROLES:
        if code and code != "ALL":
            if not Organisation.objects.filter(code=code).exists():
                raise ValidationFailed.field("organisation", f"No organisation {code!r}.")
            return qs.filter(organisation__code=code)
        return qs.filter(organisation__isnull=True) if code == "ALL" else qs
    if code and code != getattr(organisation_of(request.user), "code", None):
        raise NotFound("No such report.")
    return qs


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed.field("date", "Use a date as YYYY-MM-DD.") from exc


ORG_PARAM = OpenApiParameter("organisation", str, description="Organisation code, or ALL (DCC only).")


class DailyReportListView(ServiceErrorsMixin, APIView):
    @extend_schema(summary="Daily migration exceptions reports visible to you (newest first)",
                   parameters=[ORG_PARAM, OpenApiParameter("date", OpenApiTypes.DATE)],
                   responses=DailyReportSerializer(many=True), tags=["Reports"])
    def get(self, request: Request) -> Response:
        qs = _report_scope(request).order_by("-report_date", "organisation_id")
        if day := request.query_params.get("date"):
            qs = qs.filter(report_date=_day(day))
        return Response(DailyReportSerializer(qs[:100], many=True).data)


class DailyReportDetailView(ServiceErrorsMixin, APIView):
    def _get(self, request: Request, day: str) -> DailyReport:
        qs = _report_scope(request).filter(report_date=_day(day))
        if role_of(request.user) in DCC_ROLES and not request.query_params.get("organisation"):
            qs = qs.filter(organisation__isnull=True)
        report = qs.first()
        if report is None:
            raise NotFound("No report for that day.")
        return report

    @extend_schema(summary="One day's report (yours; DCC: ALL unless ?organisation=)", parameters=[ORG_PARAM],
                   responses=DailyReportSerializer, tags=["Reports"])
    def get(self, request: Request, day: str) -> Response:
        return Response(DailyReportSerializer(self._get(request, day)).data)


class DailyReportCsvView(DailyReportDetailView):
    @extend_schema(summary="One day's report as CSV", parameters=[ORG_PARAM],
                   responses={(200, "text/csv"): OpenApiTypes.STR}, tags=["Reports"])
    def get(self, request: Request, day: str) -> HttpResponse:  # type: ignore[override]
        report = self._get(request, day)
        scope = report.organisation.code if report.organisation_id else "all-users"
        response = HttpResponse(report_csv([report]), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="mehr-exceptions-{scope}-{report.report_date}.csv"'
        return response


# --- streaming export ---------------------------------------------------------------------------------
class CaseExportView(ServiceErrorsMixin, APIView):
    @extend_schema(
        summary="Stream the filtered case queue as CSV (any size; rows you may see)",
        parameters=[OpenApiParameter(p, str, many=p in ("state", "stage", "category")) for p in FILTER_PARAMS],
        responses={(200, "text/csv"): OpenApiTypes.STR},
        tags=["Cases"],
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        qs = cases_filter(cases_visible_to(request.user), request.query_params)
        response = StreamingHttpResponse(cases_export_csv(qs), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="mehr-cases-{timezone.now():%Y%m%d-%H%M}.csv"'
        return response


# --- CSV import --------------------------------------------------------------------------------------
class ImportView(ServiceErrorsMixin, APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Import exception events from CSV (dry run by default; all-or-nothing; idempotent)",
        request={"multipart/form-data": inline_serializer("ExceptionEventsImport", {
            "file": serializers.FileField(), "dry_run": serializers.BooleanField(default=True)})},
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
        tags=["Import"],
    )
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailed.field("file", "Attach the CSV file as 'file'.")
        dry_run = str(request.data.get("dry_run", "true")).lower() not in ("false", "0", "no", "off")
        report = exception_events_import(content=upload.read(), actor=request.user, dry_run=dry_run,
                                         file_name=upload.name)
        return Response(report.as_dict(), status=status.HTTP_200_OK if report.ok else status.HTTP_400_BAD_REQUEST)


# --- notification preferences ------------------------------------------------------------------------
class PreferencesSerializer(serializers.Serializer):
    email_recipients = serializers.CharField(required=False, allow_blank=True)
    webhook_url = serializers.CharField(required=False, allow_blank=True)
    webhook_secret = serializers.CharField(required=False, allow_blank=True, write_only=True)
    events = serializers.DictField(child=serializers.DictField(child=serializers.BooleanField()))


class PreferencesView(ServiceErrorsMixin, APIView):
    parser_classes = [JSONParser]

    def _org(self, request: Request) -> Organisation:
        org = organisation_of(request.user)
        code = request.query_params.get("organisation")
        if code and role_of(request.user) in DCC_ROLES:
            org = Organisation.objects.filter(code=code).first()
        if org is None:
            raise NotFound("No such organisation.")
        return org

    @extend_schema(summary="Your organisation's notification preferences", responses=OpenApiTypes.OBJECT,
                   tags=["Notifications"])
    def get(self, request: Request) -> Response:
        return Response(notification_preferences_get(organisation=self._org(request)))

    @extend_schema(summary="Set your organisation's notification preferences", request=PreferencesSerializer,
                   responses=OpenApiTypes.OBJECT, tags=["Notifications"])
    def put(self, request: Request) -> Response:
        data = PreferencesSerializer(data=request.data)
        if not data.is_valid():
            raise ValidationFailed(errors={k: [str(m) for m in v] if isinstance(v, list) else [str(v)]
                                           for k, v in data.errors.items()})
        v = data.validated_data
        return Response(notification_preferences_set(
            organisation=self._org(request), actor=request.user, events=v["events"],
            email_recipients=v.get("email_recipients"), webhook_url=v.get("webhook_url"),
            webhook_secret=v.get("webhook_secret") or None,
        ))


urlpatterns = [
    path("cases/export.csv", CaseExportView.as_view(), name="api-cases-export"),
    path("cases/<str:reference>/sla/", CaseSlaView.as_view(), name="api-case-sla"),
    path("reports/daily/", DailyReportListView.as_view(), name="api-reports-daily"),
    path("reports/daily/<str:day>/", DailyReportDetailView.as_view(), name="api-report-daily"),
    path("reports/daily/<str:day>/csv/", DailyReportCsvView.as_view(), name="api-report-daily-csv"),
    path("imports/exception-events/", ImportView.as_view(), name="api-import-exception-events"),
    path("notifications/preferences/", PreferencesView.as_view(), name="api-notification-preferences"),
]
