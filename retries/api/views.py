"""GET /api/v1/retry-policies/ and the retry history shown on an installation."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import generics

from cases.api.views.base import ApiMixin
from cases.errors import NotFound
from cases.selectors import installations_visible_to
from retries.api.serializers import (
    MigrationAttemptSerializer,
    RetryPolicySerializer,
    SessionAttemptSerializer,
)
from retries.models import RetryPolicy
from retries.selectors import migration_attempts_visible_to, session_attempts_visible_to


def history_limit() -> int:
    """How many of the newest attempts the installation detail embeds; the rest are paged by the
    installation's /migration-attempts/ and /session-attempts/ sub-resources."""
    return int(settings.MEHR["API_INSTALLATION_HISTORY_LIMIT"])


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
        .order_by("-number", "-id")[: history_limit()]
    )
    sessions = (
        session_attempts_visible_to(user)
        .filter(installation_id=installation.pk)
        .select_related("migration_attempt")
        .order_by("-due_at", "-id")[: history_limit()]
    )
    migration_serializer, session_serializer = MigrationAttemptSerializer(), SessionAttemptSerializer()
    return {
        "migration_attempts": [migration_serializer.to_representation(a) for a in migrations],
        "session_attempts": [session_serializer.to_representation(s) for s in sessions],
    }


class _InstallationHistoryView(ApiMixin, generics.ListAPIView):
    """Attempts of one installation the caller may see (another User's installation answers 404)."""

    def installation_id(self) -> int:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return 0
        pk = int(self.kwargs["pk"])
        if not installations_visible_to(self.request.user).filter(pk=pk).exists():
            raise NotFound(f"No installation {pk}.")
        return pk


@extend_schema(tags=["installations"])
class InstallationMigrationAttemptsView(_InstallationHistoryView):
    """Every migration (and firmware upgrade) attempt of an installation, newest first, cursor-paged."""

    serializer_class = MigrationAttemptSerializer
    ordering_fields = ("number", "id")
    default_ordering = "-number"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return migration_attempts_visible_to(self.request.user).filter(
            installation_id=self.installation_id()
        ).select_related("failure_check", "policy")


@extend_schema(tags=["installations"])
class InstallationSessionAttemptsView(_InstallationHistoryView):
    """Every Communications Hub session attempt of an installation, latest due first, cursor-paged."""

    serializer_class = SessionAttemptSerializer
    ordering_fields = ("due_at", "id")
    default_ordering = "-due_at"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return session_attempts_visible_to(self.request.user).filter(
            installation_id=self.installation_id()
        ).select_related("migration_attempt")
