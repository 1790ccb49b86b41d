from django.contrib import admin
from django.urls import include, path

from mehr_site.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("cases.api.urls")),
]

# Problem details (JSON) for unknown URLs and errors under /api/; Django's pages elsewhere.
handler404 = "cases.api.problems.handler404"
handler500 = "cases.api.problems.handler500"
