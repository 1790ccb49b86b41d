"""The audit trail, notes and attachments as the caller may see them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

from cases.api.serializers import isoformat as _dt
from cases.domain import CaseState, EventKind, NoteKind, Role, Visibility
from cases.models import Attachment, CaseEvent


class ActorSerializer(serializers.Serializer):
    username = serializers.CharField(allow_null=True, help_text="Null for the MEHR system itself.")
    organisation = serializers.CharField(allow_null=True, help_text="Organisation code.")
    role = serializers.ChoiceField(choices=Role.choices, allow_blank=True)


def actor_of(event: CaseEvent) -> dict[str, Any]:
    return {
        "username": event.actor.get_username() if event.actor_id else None,
        "organisation": event.actor_organisation.code if event.actor_organisation_id else None,
        "role": event.actor_role,
    }


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=EventKind.choices)
    created_at = serializers.DateTimeField()
    actor = ActorSerializer()
    from_state = serializers.ChoiceField(choices=CaseState.choices, allow_blank=True)
    to_state = serializers.ChoiceField(choices=CaseState.choices, allow_blank=True)
    transition = serializers.CharField(allow_blank=True)
    note_kind = serializers.ChoiceField(choices=NoteKind.choices, allow_blank=True)
    visibility = serializers.ChoiceField(choices=Visibility.choices)
    body = serializers.CharField(allow_blank=True)
    data = serializers.DictField(help_text="Structured details of the event (fields set, source event, …).")

    def to_representation(self, event: CaseEvent) -> dict[str, Any]:
        return {
            "id": event.pk,
            "kind": event.kind,
            "created_at": _dt(event.created_at),
            "actor": actor_of(event),
            "from_state": event.from_state,
            "to_state": event.to_state,
            "transition": event.transition,
            "note_kind": event.note_kind,
            "visibility": event.visibility,
            "body": event.body,
            "data": event.data or {},
        }


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    visibility = serializers.ChoiceField(choices=Visibility.choices)
    uploaded_at = serializers.DateTimeField()
    download_url = serializers.CharField(help_text="GET it with the same credentials.")

    def to_representation(self, attachment: Attachment) -> dict[str, Any]:
        reference = self.context.get("reference", "")
        return {
            "id": attachment.pk,
            "name": attachment.original_name,
            "content_type": attachment.content_type,
            "size": attachment.size,
            "sha256": attachment.sha256,
            "visibility": attachment.visibility,
            "uploaded_at": _dt(attachment.uploaded_at),
            "download_url": reverse("api:case-attachment", kwargs={"reference": reference, "pk": attachment.pk}),
        }


class NoteSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The note's event id.")
    kind = serializers.ChoiceField(choices=NoteKind.choices)
    body = serializers.CharField()
    visibility = serializers.ChoiceField(choices=Visibility.choices)
    created_at = serializers.DateTimeField()
    author = ActorSerializer()
    attachments = AttachmentSerializer(many=True)

    def to_representation(self, event: CaseEvent) -> dict[str, Any]:
        attachments = self.context.get("attachments", {}).get(event.pk, [])
        attachment_serializer = AttachmentSerializer(context=self.context)
        return {
            "id": event.pk,
            "kind": event.note_kind,
            "body": event.body,
            "visibility": event.visibility,
            "created_at": _dt(event.created_at),
            "author": actor_of(event),
            "attachments": [attachment_serializer.to_representation(a) for a in attachments],
        }


class NoteCreateSerializer(serializers.Serializer):
    """JSON, or multipart/form-data when attaching files (repeat the `attachments` part per file)."""

    kind = serializers.ChoiceField(choices=NoteKind.choices)
    body = serializers.CharField(max_length=20_000)
    visibility = serializers.ChoiceField(
        choices=Visibility.choices, default=Visibility.SHARED, help_text="INTERNAL is for DCC staff only."
    )
    attachments = serializers.ListField(
        child=serializers.FileField(allow_empty_file=False, max_length=200),
        required=False,
        max_length=10,
        help_text=f"Files of types {', '.join(settings.MEHR['ATTACHMENT_CONTENT_TYPES'])}, "
        f"at most {settings.MEHR['ATTACHMENT_MAX_BYTES']} bytes each.",
    )
