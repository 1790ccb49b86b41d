from django.contrib import admin
from django.urls import include, path

from mehr_site.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # SLA, reports, CSV export/import and notification settings (issue 6); their API is in cases.api.urls.
    path("", include("cases.web.reports")),
    path("api/", include("cases.api.urls")),
    path("", include("cases.web.urls")),
]

handler403 = "cases.web.errors.permission_denied"
# Problem details (JSON) under /api/; the web app's friendly pages everywhere else.
handler404 = "cases.api.problems.handler404"
handler500 = "cases.api.problems.handler500"
