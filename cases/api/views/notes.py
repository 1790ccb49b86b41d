"""A case's notes (with attachments), its audit trail, and attachment downloads."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from cases.api.idempotency import idempotent
from cases.api.serializers.events import EventSerializer, NoteCreateSerializer, NoteSerializer
from cases.api.views.base import ApiMixin, ApiView, CaseScopedMixin
from cases.domain import EventKind
from cases.errors import NotFound
from cases.models import CaseEvent
from cases.selectors import attachments_visible_to, case_events_visible_to
from cases.services import case_add_note


def _attachments_by_note(user: Any, case_id: int, note_ids: list[int]) -> dict[int, list[Any]]:
    """One query for the attachments of a page of notes (linked through their ATTACHMENT event)."""
    out: dict[int, list[Any]] = {}
    if not note_ids:
        return out
    for attachment in (
        attachments_visible_to(user)
        .filter(case_id=case_id, event__data__note_event__in=note_ids)
        .select_related("event")
        .order_by("pk")
    ):
        out.setdefault(attachment.event.data.get("note_event"), []).append(attachment)
    return out


@extend_schema(tags=["notes"])
class CaseNotesView(ApiMixin, CaseScopedMixin, generics.GenericAPIView):
    """Investigation, correction and communication notes on a case (DCC-internal ones only for DCC)."""

    serializer_class = NoteSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    ordering_fields = ("created_at", "id")
    default_ordering = "created_at"
    idempotent_posts = True

    def get_queryset(self):  # type: ignore[no-untyped-def]
        case = self.get_case()
        return (
            case_events_visible_to(self.request.user)
            .filter(case_id=case.pk, kind=EventKind.NOTE)
            .select_related("actor", "actor_organisation")
        )

    def _represent(self, notes: list[CaseEvent]) -> list[dict[str, Any]]:
        case = self.get_case()
        attachments = _attachments_by_note(self.request.user, case.pk, [n.pk for n in notes])
        serializer = NoteSerializer(context={"attachments": attachments, "reference": case.reference})
        return [serializer.to_representation(n) for n in notes]

    def get(self, request: Request, reference: str) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self._represent(page))

    @extend_schema(
        request={"application/json": NoteCreateSerializer, "multipart/form-data": NoteCreateSerializer},
        responses={201: NoteSerializer},
    )
    @idempotent
    def post(self, request: Request, reference: str) -> Response:
        case = self.get_case()
        data = request.data
        if hasattr(data, "getlist"):  # multipart: the files arrive in request.FILES
            data = {k: v for k, v in data.items() if k != "attachments"}
            data["attachments"] = request.FILES.getlist("attachments")
            if not data["attachments"]:
                del data["attachments"]
        serializer = NoteCreateSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        event = case_add_note(
            case=case.pk,
            actor=request.user,
            kind=values["kind"],
            body=values["body"],
            visibility=values["visibility"],
            attachments=values.get("attachments", []),
        )
        note = case_events_visible_to(request.user).select_related("actor", "actor_organisation").get(pk=event.pk)
        return Response(self._represent([note])[0], status=status.HTTP_201_CREATED)


@extend_schema(tags=["cases"])
class CaseEventsView(ApiMixin, CaseScopedMixin, generics.ListAPIView):
    """The audit trail of a case, oldest first (a User sees only what is shared with Users)."""

    serializer_class = EventSerializer
    ordering_fields = ("created_at", "id")
    default_ordering = "created_at"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        case = self.get_case()
        return (
            case_events_visible_to(self.request.user)
            .filter(case_id=case.pk)
            .select_related("actor", "actor_organisation")
        )


@extend_schema(
    tags=["notes"],
    responses={(200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The file.")},
)
class CaseAttachmentView(ApiView, CaseScopedMixin):
    """Download an attachment (with the content type it was uploaded with)."""

    def get(self, request: Request, reference: str, pk: int) -> FileResponse:
        case = self.get_case()
        attachment = attachments_visible_to(request.user).filter(case_id=case.pk, pk=pk).first()
        if attachment is None:
            raise NotFound("No such attachment on this case.")
        return FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.original_name,
            content_type=attachment.content_type,
        )
