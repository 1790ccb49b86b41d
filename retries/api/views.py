"""GET /api/v1/retry-policies/ and the retry history shown on an installation."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics

from cases.api.views.base import ApiMixin
from retries.api.serializers import (
    MigrationAttemptSerializer,
    RetryPolicySerializer,
    SessionAttemptSerializer,
)
from retries.models import RetryPolicy
from retries.selectors import migration_attempts_visible_to, session_attempts_visible_to

# The installation detail embeds the newest attempts; the full history is paged elsewhere (UI).
HISTORY_LIMIT = 50


@extend_schema(tags=["retries"])
class RetryPolicyListView(ApiMixin, generics.ListAPIView):
    """The retry policies (MEHR.md §5 numbers per MEHR version, cohort and installation type)."""

    serializer_class = RetryPolicySerializer
    ordering_fields = ("id",)
    default_ordering = "id"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return RetryPolicy.objects.select_related("mehr_version")


def installation_retry_history(installation: Any, user: Any) -> dict[str, list[dict[str, Any]]]:
    """The newest migration and session attempts of an installation the user may see (two queries)."""
    migrations = (
        migration_attempts_visible_to(user)
        .filter(installation_id=installation.pk)
        .select_related("failure_check", "policy")
        .order_by("-number")[:HISTORY_LIMIT]
    )
    sessions = (
        session_attempts_visible_to(user)
        .filter(installation_id=installation.pk)
        .select_related("migration_attempt")
        .order_by("-due_at", "-id")[:HISTORY_LIMIT]
    )
    migration_serializer, session_serializer = MigrationAttemptSerializer(), SessionAttemptSerializer()
    return {
        "migration_attempts": [migration_serializer.to_representation(a) for a in migrations],
        "session_attempts": [session_serializer.to_representation(s) for s in sessions],
    }
