"""The Idempotency-Key header on POSTs: the first response is remembered and replayed.

Semantics (after the IETF httpapi "Idempotency-Key" draft):
* a POST with a key not seen before runs, and its 2xx response is stored for the account and key;
* the same key with the same request (method, path, body) replays that response, marked with
  ``Idempotent-Replayed: true``, and does nothing else;
* the same key with a different request answers 422; while the first is still running, 409;
* an error response is not stored, so the client may retry with the same key;
* keys expire after settings.MEHR["API_IDEMPOTENCY_TTL_HOURS"] hours.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from cases.api.problems import problem, problem_response
from cases.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADERS = ("ETag", "Location")


def _fingerprint(request: Any) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}?{request.META.get('QUERY_STRING', '')}\n".encode())
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict (form or multipart)
        items = []
        for key, values in sorted(data.lists()):
            items.append([key, [v if isinstance(v, str) else f"file:{getattr(v, 'name', '')}:{getattr(v, 'size', '')}" for v in values]])
        for key, files in sorted(request.FILES.lists()):
            items.append([key, [f"file:{f.name}:{f.size}" for f in files]])
        payload = json.dumps(items, sort_keys=True, default=str)
    else:
        payload = json.dumps(data, sort_keys=True, default=str)
    digest.update(payload.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def idempotent(view_method: Callable[..., Response]) -> Callable[..., Response]:
    """Wrap a view's post() to honour the Idempotency-Key header."""

    @functools.wraps(view_method)
    def wrapper(self: Any, request: Any, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(self, request, *args, **kwargs)
        if not (1 <= len(key) <= 255):
            return problem_response(
                problem(400, "validation_failed", "Idempotency-Key is 1 to 255 characters.",
                        errors={HEADER: ["1 to 255 characters."]}, instance=request.path)
            )
        fingerprint = _fingerprint(request)
        ttl = timedelta(hours=int(settings.MEHR.get("API_IDEMPOTENCY_TTL_HOURS", 24)))
        IdempotencyRecord.objects.filter(user=request.user, key=key, created_at__lt=timezone.now() - ttl).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(user=request.user, key=key, fingerprint=fingerprint)
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
            if existing is None or existing.status_code is None:
                return problem_response(
                    problem(409, "idempotency_in_progress", "A request with this Idempotency-Key is still in progress.",
                            instance=request.path)
                )
            if existing.fingerprint != fingerprint:
                return problem_response(
                    problem(422, "idempotency_key_reused",
                            "This Idempotency-Key was used with a different request.", instance=request.path)
                )
            stored = existing.response or {}
            headers = {**stored.get("headers", {}), "Idempotent-Replayed": "true"}
            return Response(stored.get("body"), status=existing.status_code, headers=headers)
        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        if 200 <= response.status_code < 300:
            body = json.loads(JSONRenderer().render(response.data) or b"null")
            headers = {h: response[h] for h in REPLAYED_HEADERS if response.has_header(h)}
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                status_code=response.status_code, response={"body": body, "headers": headers}
            )
        else:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return response

    return wrapper
