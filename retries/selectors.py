"""Reads of retry state that apply visibility: a User sees only its own installations' attempts."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from cases.selectors import installations_visible_to

from .models import MigrationAttempt, RetryPause, SessionAttempt


def migration_attempts_visible_to(user: Any) -> QuerySet[MigrationAttempt]:
    return MigrationAttempt.objects.filter(installation__in=installations_visible_to(user).values("pk"))


def session_attempts_visible_to(user: Any) -> QuerySet[SessionAttempt]:
    return SessionAttempt.objects.filter(installation__in=installations_visible_to(user).values("pk"))


def retry_pauses_visible_to(user: Any) -> QuerySet[RetryPause]:
    """Pauses of visible installations; cohort and global pauses are shown to everyone who can sign in."""
    from django.db.models import Q

    return RetryPause.objects.filter(
        Q(installation__isnull=True) | Q(installation__in=installations_visible_to(user).values("pk"))
    )


def migration_attempts_for_case(*, user: Any, case: Any) -> QuerySet[MigrationAttempt]:
    """The attempts shown on a case page: those of its installation, if the user sees the installation."""
    return migration_attempts_visible_to(user).filter(installation_id=case.installation_id).order_by("number")
