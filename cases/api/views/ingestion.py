"""POST /api/v1/exception-events/: one event, or a batch of up to 1,000, from DCC systems."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from cases.api.ingestion import ingest, max_batch
from cases.api.problems import problem, problem_response
from cases.api.serializers.ingestion import (
    ExceptionEventBatchResultSerializer,
    ExceptionEventBatchSerializer,
    ExceptionEventResultSerializer,
    ExceptionEventSerializer,
)
from cases.api.views.base import ApiView
from cases.services import case_raise_authorise


@extend_schema(
    tags=["ingestion"],
    request=PolymorphicProxySerializer(
        component_name="ExceptionEventsPayload",
        serializers=[ExceptionEventSerializer, ExceptionEventBatchSerializer],
        resource_type_field_name=None,
    ),
    responses={
        200: OpenApiResponse(
            PolymorphicProxySerializer(
                component_name="ExceptionEventsOutcome",
                serializers=[ExceptionEventResultSerializer, ExceptionEventBatchResultSerializer],
                resource_type_field_name=None,
            ),
            description="A batch: one result per event (invalid ones have `errors`; the valid ones were applied). "
            "A single event that added an occurrence, or a replay.",
        ),
        201: OpenApiResponse(ExceptionEventResultSerializer, description="A single event that opened a case."),
    },
    examples=[
        OpenApiExample(
            "One event",
            request_only=True,
            value={
                "source": "S1SP",
                "source_event_id": "evt-000001",
                "check_code": "CM001",
                "occurred_at": "2026-11-28T09:15:00Z",
                "mpan": "1200023305967",
                "detail": "CH session not established after 3 attempts",
            },
        ),
    ],
)
class ExceptionEventsView(ApiView):
    """Report migration exceptions (DCC systems and DCC staff). Idempotent by (source, source_event_id):
    a replay creates nothing and returns the case of the first delivery with `duplicate: true`.
    Send one event as an object, or `{"events": [...]}` with up to 1,000; per-event errors come back
    in the results while the valid events are applied."""

    parser_classes = [JSONParser]
    throttle_scope = "ingest"

    def post(self, request: Request) -> Response:
        case_raise_authorise(actor=request.user)
        data: Any = request.data
        if not isinstance(data, Mapping):
            raise ValidationError({"non_field_errors": ["Send one event as a JSON object, or {\"events\": [...]}."]})
        if "events" in data:
            events = data["events"]
            if set(data) - {"events"}:
                raise ValidationError({k: ["Unknown field."] for k in sorted(set(data) - {"events"})})
            limit = max_batch()
            if not isinstance(events, list) or not events:
                raise ValidationError({"events": [f"A list of 1 to {limit} events."]})
            if len(events) > limit:
                return problem_response(
                    problem(413, "batch_too_large", f"At most {limit} events per request; split the batch.",
                            errors={"events": [f"{len(events)} events; the limit is {limit}."]}, instance=request.path)
                )
            results = ingest(events, request.user)
            counts = {"created": 0, "added": 0, "duplicate": 0, "invalid": 0}
            for result in results:
                if result["status"] == "invalid":
                    counts["invalid"] += 1
                elif result["duplicate"]:
                    counts["duplicate"] += 1
                else:
                    counts[result["status"]] += 1
            return Response({"counts": counts, "results": results})
        (result,) = ingest([data], request.user)
        if result["status"] == "invalid":
            raise ValidationError(result["errors"])
        created = result["status"] == "created" and not result["duplicate"]
        return Response(result, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
