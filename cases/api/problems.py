"""RFC 9457 problem details: the one error shape of the API.

Every error, whether raised by a service (cases.errors.ServiceError), by DRF (parsing,
authentication, throttling, validation) or by Django (404 for an unknown URL), answers with
``application/problem+json``::

    {"type": "https://mehr.invalid/problems/validation_failed", "title": "The request is not valid.",
     "status": 400, "detail": "...", "instance": "/api/v1/cases/MEHR-000001/notes/",
     "code": "validation_failed", "errors": {"body": ["Write the note."]}}
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from cases.errors import ServiceError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://mehr.invalid/problems/"

TITLES = {
    400: "The request is not valid.",
    401: "Authentication is required.",
    403: "You may not do this.",
    404: "Not found.",
    405: "Method not allowed.",
    406: "Not acceptable.",
    409: "Conflict.",
    413: "Request too large.",
    415: "Unsupported media type.",
    422: "Unprocessable request.",
    428: "Precondition required.",
    429: "Too many requests.",
    500: "Internal error.",
}


def problem(
    status_code: int,
    code: str,
    detail: str,
    *,
    errors: dict[str, Any] | None = None,
    instance: str = "",
    title: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title or TITLES.get(status_code, "Error."),
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return body


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail → {"field": [...], "events.3.check_code": [...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = str(key) if not prefix else f"{prefix}.{key}"
            if key == "non_field_errors" and not prefix:
                name = "non_field_errors"
            for k, v in _flatten(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(v, dict | list) for v in detail):
            out.setdefault(prefix or "non_field_errors", []).extend(str(v) for v in detail)
        else:
            for i, value in enumerate(detail):
                if value in ({}, [], None, ""):
                    continue
                for k, v in _flatten(value, f"{prefix}.{i}" if prefix else str(i)).items():
                    out.setdefault(k, []).extend(v)
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    response = Response(body, status=body["status"], headers=headers, content_type=PROBLEM_CONTENT_TYPE)
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF EXCEPTION_HANDLER: everything becomes a problem; nothing escapes as a 500 page."""
    request = context.get("request")
    instance = request.path if request is not None else ""
    headers: dict[str, str] = {}

    if isinstance(exc, ServiceError):
        errors = exc.errors or None
        title = (type(exc).__doc__ or "").strip().splitlines()[0] if type(exc).__doc__ else ""
        body = problem(exc.status, exc.code, exc.message, errors=errors, instance=instance, title=title)
        return problem_response(body)
    if isinstance(exc, RequestDataTooBig):
        return problem_response(problem(413, "request_too_large", str(exc) or "The request body is too large.", instance=instance))
    if isinstance(exc, SuspiciousOperation):
        return problem_response(problem(400, "bad_request", "The request is malformed.", instance=instance))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(getattr(exc, "message_dict", None) or {"non_field_errors": exc.messages})

    if isinstance(exc, exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        code = exc.default_code if not isinstance(exc.get_codes(), str) else exc.get_codes()
        if isinstance(exc, exceptions.ValidationError):
            errors = _flatten(exc.detail)
            body = problem(
                status.HTTP_400_BAD_REQUEST,
                "validation_failed",
                "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()),
                errors=errors,
                instance=instance,
            )
        else:
            detail = exc.detail if isinstance(exc.detail, str) else "; ".join(
                f"{k}: {' '.join(v)}" for k, v in _flatten(exc.detail).items()
            )
            body = problem(exc.status_code, str(code), str(detail), instance=instance)
        return problem_response(body, headers)

    # A bug: log it with the traceback, answer with a problem (never an HTML 500 page).
    logger.exception("Unhandled error in API view %s", instance)
    return problem_response(problem(500, "internal_error", "Something went wrong on our side.", instance=instance))


def _json_problem(request: HttpRequest, status_code: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(
        problem(status_code, code, detail, instance=request.path), status=status_code, content_type=PROBLEM_CONTENT_TYPE
    )


def api_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """404 for an unknown URL under /api/ (Django's handler404 delegates here)."""
    return _json_problem(request, 404, "not_found", "No such endpoint.")


def api_server_error(request: HttpRequest) -> JsonResponse:
    return _json_problem(request, 500, "internal_error", "Something went wrong on our side.")


def handler404(request: HttpRequest, exception: Exception | None = None):  # type: ignore[no-untyped-def]
    """Project handler404: problem details under /api/, Django's page everywhere else."""
    if request.path.startswith("/api/"):
        return api_not_found(request, exception)
    from cases.web.errors import page_not_found

    return page_not_found(request, exception)


def handler500(request: HttpRequest):  # type: ignore[no-untyped-def]
    if request.path.startswith("/api/"):
        return api_server_error(request)
    from cases.web.errors import server_error

    return server_error(request)
