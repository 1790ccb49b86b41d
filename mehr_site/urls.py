from django.contrib import admin
from django.urls import include, path

from mehr_site.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # SLA, reports, CSV export/import and notification settings (issue 6).
    path("api/v1/", include("cases.api.reports")),
    path("", include("cases.web.reports")),
]
