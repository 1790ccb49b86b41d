"""Firing lifecycle transitions (optimistic concurrency by version) and ticking checklist steps."""

from __future__ import annotations

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from cases.api.idempotency import idempotent
from cases.api.problems import problem, problem_response
from cases.api.serializers.cases import (
    CaseDetailSerializer,
    ChecklistItemSerializer,
    ChecklistTickSerializer,
    TransitionRequestSerializer,
)
from cases.api.views.base import ApiView, CaseScopedMixin
from cases.api.views.cases import case_detail_data, etag
from cases.errors import NotFound, NotPermitted, ValidationFailed
from cases.lifecycle import TRANSITIONS
from cases.roles import role_of
from cases.selectors import case_get_visible
from cases.services import case_tick_checklist, case_transition

_ETAG_RE = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')

IF_MATCH = OpenApiParameter(
    name="If-Match",
    location=OpenApiParameter.HEADER,
    required=False,
    type=str,
    description='The case version you read, as returned in the ETag header (e.g. "3"). '
    "Required unless the body carries `version`.",
)


@extend_schema(
    tags=["cases"],
    parameters=[
        IF_MATCH,
        OpenApiParameter(
            "name", OpenApiTypes.STR, OpenApiParameter.PATH, enum=sorted(TRANSITIONS), description="The transition."
        ),
    ],
    request=TransitionRequestSerializer,
    responses={200: OpenApiResponse(CaseDetailSerializer, description="The case after the transition.")},
)
class CaseTransitionView(ApiView, CaseScopedMixin):
    """Fire a transition: 409 when the case changed since you read it (stale version), 403 when your
    role may not fire it, 400 when the case's state or a condition does not allow it, 428 without a version."""

    idempotent_posts = True
    problem_statuses = ("409", "428")

    @idempotent
    def post(self, request: Request, reference: str, name: str) -> Response:
        case = self.get_case()
        if name not in TRANSITIONS:
            raise NotFound(f"No transition {name!r}; the case lists the ones you may fire in allowed_transitions.")
        serializer = TransitionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        version = values.pop("version", None)
        header = request.headers.get("If-Match")
        if header is not None:
            match = _ETAG_RE.match(header)
            if match is None:
                raise ValidationFailed.field("If-Match", 'Send the version as returned in ETag, e.g. "3".')
            if version is not None and int(match.group(1)) != version:
                raise ValidationFailed.field("version", "The If-Match header and the version field disagree.")
            version = int(match.group(1))
        if version is None:
            if role_of(request.user) not in TRANSITIONS[name].roles:
                # Say "not permitted" before "version missing": the version would not help.
                raise NotPermitted(f"Your role may not {TRANSITIONS[name].label.lower()} a case.")
            return problem_response(
                problem(
                    428,
                    "version_required",
                    "Say which version of the case you read: an If-Match header or a `version` field.",
                    instance=request.path,
                )
            )
        note = values.pop("note", "")
        updated = case_transition(
            case=case.pk, transition=name, actor=request.user, expected_version=version, note=note, **values
        )
        fresh = case_get_visible(user=request.user, reference=updated.pk)
        return Response(case_detail_data(fresh, request.user), headers={"ETag": etag(fresh)})


@extend_schema(
    tags=["cases"],
    parameters=[OpenApiParameter("step", OpenApiTypes.INT, OpenApiParameter.PATH, description="Step number.")],
    request=ChecklistTickSerializer,
    responses={200: ChecklistItemSerializer},
)
class ChecklistStepView(ApiView, CaseScopedMixin):
    """Tick (or untick) a procedure step: Users tick User steps, DCC staff the others."""

    def patch(self, request: Request, reference: str, step: int) -> Response:
        case = self.get_case()
        serializer = ChecklistTickSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not 0 < step < 32768:
            raise NotFound(f"No step {step} on this case.")
        item = case_tick_checklist(case=case.pk, order=step, actor=request.user, done=serializer.validated_data["done"])
        return Response(ChecklistItemSerializer().to_representation(item))
