"""URLs of the API: /api/v1/… plus the schema and its documentation (served from local files)."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from cases.api.views.cases import CaseDetailView, CaseListView
from cases.api.views.ingestion import ExceptionEventsView
from cases.api.views.installations import (
    CheckDetailView,
    CheckListView,
    InstallationDetailView,
    InstallationListView,
)
from cases.api.views.notes import CaseAttachmentView, CaseEventsView, CaseNotesView
from cases.api.views.reports import (
    CaseExportView,
    CaseSlaView,
    DailyReportCsvView,
    DailyReportDetailView,
    DailyReportListView,
    ImportView,
    PreferencesView,
)
from cases.api.views.transitions import CaseTransitionView, ChecklistStepView
from retries.api.views import (
    InstallationMigrationAttemptsView,
    InstallationSessionAttemptsView,
    RetryPolicyListView,
)

app_name = "api"

v1 = [
    path("cases/", CaseListView.as_view(), name="case-list"),
    path("cases/export.csv", CaseExportView.as_view(), name="case-export"),
    path("cases/<str:reference>/", CaseDetailView.as_view(), name="case-detail"),
    path("cases/<str:reference>/notes/", CaseNotesView.as_view(), name="case-notes"),
    path("cases/<str:reference>/events/", CaseEventsView.as_view(), name="case-events"),
    path("cases/<str:reference>/attachments/<int:pk>/", CaseAttachmentView.as_view(), name="case-attachment"),
    path("cases/<str:reference>/transitions/<str:name>/", CaseTransitionView.as_view(), name="case-transition"),
    path("cases/<str:reference>/checklist/<int:step>/", ChecklistStepView.as_view(), name="case-checklist-step"),
    path("cases/<str:reference>/sla/", CaseSlaView.as_view(), name="case-sla"),
    path("installations/", InstallationListView.as_view(), name="installation-list"),
    path("installations/<int:pk>/", InstallationDetailView.as_view(), name="installation-detail"),
    path(
        "installations/<int:pk>/migration-attempts/",
        InstallationMigrationAttemptsView.as_view(),
        name="installation-migration-attempts",
    ),
    path(
        "installations/<int:pk>/session-attempts/",
        InstallationSessionAttemptsView.as_view(),
        name="installation-session-attempts",
    ),
    path("checks/", CheckListView.as_view(), name="check-list"),
    path("checks/<str:code>/", CheckDetailView.as_view(), name="check-detail"),
    path("exception-events/", ExceptionEventsView.as_view(), name="exception-events"),
    path("retry-policies/", RetryPolicyListView.as_view(), name="retry-policy-list"),
    path("reports/daily/", DailyReportListView.as_view(), name="report-daily-list"),
    path("reports/daily/<str:day>/", DailyReportDetailView.as_view(), name="report-daily-detail"),
    path("reports/daily/<str:day>/csv/", DailyReportCsvView.as_view(), name="report-daily-csv"),
    path("imports/exception-events/", ImportView.as_view(), name="import-exception-events"),
    path("notifications/preferences/", PreferencesView.as_view(), name="notification-preferences"),
]

# The schema documents exactly the v1 API (not other apps' views).
v1.append(path("schema/", SpectacularAPIView.as_view(patterns=[path("api/v1/", include(v1))]), name="schema"))

urlpatterns = [
    path("v1/", include(v1)),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("docs/redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
]
