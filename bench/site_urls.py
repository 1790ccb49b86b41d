"""URLs for benchmarks (bench/site.py): the product's plus the bare baseline view."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("__bench/bare", bare),
    path("", include("mehr_site.urls")),
]
