"""OpenAPI generation: every operation documents its problem-details error responses."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from cases.api.problems import PROBLEM_CONTENT_TYPE


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="A URI naming the kind of problem.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Machine-readable error code, e.g. validation_failed, conflict.")
    instance = serializers.CharField(required=False, help_text="The request path.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per-field messages (`field` or `events.3.check_code`).",
    )


IDEMPOTENCY_KEY = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    type={"type": "string", "minLength": 1, "maxLength": 255},
    description="Any unique string (e.g. a UUID). A repeat of the same request with the same key replays the "
    "first response (header `Idempotent-Replayed: true`) instead of acting twice; the same key with a "
    "different request answers 422.",
)

ERROR_DESCRIPTIONS = {
    "400": "Invalid request (problem details, per-field messages in `errors`).",
    "401": "Missing or invalid credentials.",
    "403": "Your role may not do this.",
    "404": "No such object, or not visible to you.",
    "409": "Conflict: the object changed since you read it, or the same Idempotency-Key is in progress.",
    "413": "The request body is too large.",
    "415": "Unsupported media type.",
    "422": "The Idempotency-Key was used with a different request.",
    "428": "The version you read is required (If-Match header or `version` field).",
    "429": "Too many requests for this token; retry after `Retry-After` seconds.",
}


class ProblemAutoSchema(AutoSchema):
    """Adds problem-details responses to every operation: 401/403/404/429 always, 400 on writes and filters."""

    # Views may set `problem_statuses` to add statuses (e.g. ("409", "428")).
    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        statuses = {"400", "401", "403", "404", "429"}
        if self.method in ("POST", "PUT", "PATCH"):
            statuses |= {"413", "415"}
        statuses |= set(getattr(self.view, "problem_statuses", ()))
        if self.method == "POST" and getattr(self.view, "idempotent_posts", False):
            statuses |= {"409", "422"}
        for status in sorted(statuses):
            if status in responses:
                continue
            body = self._get_response_for_code(ProblemSerializer, status, media_types=[PROBLEM_CONTENT_TYPE])
            body["description"] = ERROR_DESCRIPTIONS.get(status, "Error")
            responses[status] = body
        return responses

    def get_override_parameters(self) -> list[Any]:
        params = list(super().get_override_parameters())
        if self.method == "POST" and getattr(self.view, "idempotent_posts", False):
            params.append(IDEMPOTENCY_KEY)
        return params
