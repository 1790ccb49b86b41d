"""Friendly error pages. 500 renders without a request context (the database may be the problem)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader


def _wants_html(request: HttpRequest) -> bool:
    return not request.path.startswith("/api/")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not _wants_html(request):
        from django.views.defaults import page_not_found as default

        return default(request, exception)  # type: ignore[arg-type]
    return render(request, "404.html", {"message": _message(exception)}, status=404)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not _wants_html(request):
        from django.views.defaults import permission_denied as default

        return default(request, exception)  # type: ignore[arg-type]
    return render(request, "403.html", {"message": _message(exception)}, status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    template = loader.get_template("500.html")
    return HttpResponseServerError(template.render({}))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "403.html", {"message": "Your form expired or came from elsewhere. Reload the page and try again."}, status=403)


def _message(exception: Any) -> str:
    # Our views raise Http404/PermissionDenied with a plain sentence; the URL resolver passes a dict.
    if exception is None or not exception.args:
        return ""
    message = exception.args[0]
    return message if isinstance(message, str) else ""
