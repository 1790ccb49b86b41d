"""Operator controls: pause/resume (installation, cohort, everything) and cancelling pending attempts."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.domain import OPEN_STATES, CaseState, Cohort, MigrationStatus
from cases.errors import ValidationFailed
from cases.models import Case, Installation

from ..models import (
    OPEN_MIGRATION_OUTCOMES,
    MigrationAttempt,
    MigrationOutcome,
    PauseScope,
    RetryPause,
    SessionAttempt,
    SessionState,
)
from .common import authorise_operator, driven_cases, fire, lock_installation, record_on_cases


def _scope_fields(scope: str, installation: Installation | None, cohort: str) -> dict[str, Any]:
    if scope not in PauseScope.values:
        raise ValidationFailed.field("scope", f"Choose one of {', '.join(PauseScope.values)}.")
    if scope == PauseScope.INSTALLATION:
        if installation is None:
            raise ValidationFailed.field("installation", "Which installation?")
        return {"scope": scope, "installation": installation, "cohort": ""}
    if scope == PauseScope.COHORT:
        if cohort not in Cohort.values:
            raise ValidationFailed.field("cohort", f"Choose one of {', '.join(Cohort.values)}.")
        return {"scope": scope, "installation": None, "cohort": cohort}
    return {"scope": scope, "installation": None, "cohort": ""}


def _open_cases(installation: Installation) -> list[Case]:
    return list(Case.objects.filter(installation=installation, state__in=OPEN_STATES).order_by("pk"))


def retries_pause(
    *, scope: str, actor: Any, reason: str, installation: Installation | None = None, cohort: str = ""
) -> RetryPause:
    """Stop claiming due session attempts in a scope. Running attempts finish; nothing is lost.

    An installation pause is recorded on its open cases; cohort and global pauses (which may cover
    hundreds of thousands of cases) are recorded on the RetryPause row itself.
    """
    authorise_operator(actor, "pause retries")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed.field("reason", "Say why retries are paused.")
    fields = _scope_fields(scope, installation, cohort)
    if RetryPause.objects.filter(is_active=True, **fields).exists():
        raise ValidationFailed.field("scope", "Retries are already paused there.")
    try:
        with transaction.atomic():
            # The partial unique index settles a race between two pauses (PostgreSQL).
            pause = RetryPause.objects.create(**fields, reason=reason[:500], paused_by=actor)
            if scope == PauseScope.INSTALLATION:
                record_on_cases(
                    _open_cases(installation),  # type: ignore[arg-type]
                    body=f"Retries paused for this installation: {reason}",
                    data={"pause": pause.pk, "scope": scope},
                    actor=actor,
                )
    except IntegrityError as exc:
        raise ValidationFailed.field("scope", "Retries are already paused there.") from exc
    return pause


def retries_resume(
    *, scope: str, actor: Any, reason: str = "", installation: Installation | None = None, cohort: str = ""
) -> RetryPause:
    """Lift the active pause of a scope; due attempts are claimed on the next beat tick."""
    authorise_operator(actor, "resume retries")
    fields = _scope_fields(scope, installation, cohort)
    with transaction.atomic():
        pause = (
            RetryPause.objects.select_for_update()
            .filter(is_active=True, scope=fields["scope"], installation=fields["installation"], cohort=fields["cohort"])
            .first()
        )
        if pause is None:
            raise ValidationFailed.field("scope", "Retries are not paused there.")
        pause.is_active = False
        pause.resumed_by, pause.resumed_at, pause.resume_reason = actor, timezone.now(), (reason or "")[:500]
        pause.save(update_fields=["is_active", "resumed_by", "resumed_at", "resume_reason"])
        if scope == PauseScope.INSTALLATION:
            record_on_cases(
                _open_cases(installation),  # type: ignore[arg-type]
                body=f"Retries resumed for this installation.{f' {reason}' if reason else ''}",
                data={"pause": pause.pk, "scope": scope},
                actor=actor,
            )
    return pause


def installation_retry_cancel(*, installation: Installation, actor: Any, reason: str) -> int:
    """Cancel the installation's pending session attempts and its open migration attempt.

    A session attempt already running finishes, but its result no longer moves the migration.
    Returns the number of session attempts cancelled.
    """
    authorise_operator(actor, "cancel retries")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed.field("reason", "Say why the retries are cancelled.")
    now = timezone.now()
    with transaction.atomic():
        locked = lock_installation(installation)
        attempts = list(
            MigrationAttempt.objects.select_for_update().filter(installation=locked, outcome__in=OPEN_MIGRATION_OUTCOMES)
        )
        cancelled = SessionAttempt.objects.filter(
            installation=locked, state__in=[SessionState.SCHEDULED, SessionState.CLAIMED]
        ).update(
            state=SessionState.CANCELLED,
            finished_at=now,
            lease_expires_at=None,
            result_code="CANCELLED",
            result_detail=reason[:2000],
        )
        for attempt in attempts:
            cases = driven_cases(attempt)
            attempt.outcome, attempt.finished_at = MigrationOutcome.CANCELLED, now
            attempt.detail = f"Cancelled: {reason}"
            attempt.save(update_fields=["outcome", "finished_at", "detail"])
            for case in cases:
                if case.state == CaseState.RETRY_SCHEDULED:
                    fire(case, "start_retry")
            for case in driven_cases(attempt) + cases:
                if Case.objects.filter(pk=case.pk, state=CaseState.RETRYING).exists():
                    fire(case, "retry_failed", note=f"Retry cancelled by DCC: {reason}")
        if attempts and locked.migration_status in (MigrationStatus.SCHEDULED, MigrationStatus.IN_PROGRESS):
            locked.migration_status = MigrationStatus.FAILED if locked.migration_attempt_count else MigrationStatus.PENDING
            locked.save(update_fields=["migration_status", "updated_at"])
        record_on_cases(
            _open_cases(locked),
            body=f"Pending retries cancelled ({cancelled} session attempt(s)): {reason}",
            data={"cancelled_session_attempts": cancelled, "migration_attempts": [a.pk for a in attempts]},
            actor=actor,
        )
    return cancelled
