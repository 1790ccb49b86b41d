"""Scheduling migration attempts: the first one, ad-hoc retries and retries asked for by a case."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Sum
from django.utils import timezone

from cases.domain import OPEN_STATES, CaseState, EventKind, InstallationType, MigrationStatus
from cases.errors import ValidationFailed
from cases.models import Case, Installation
from cases.workdays import LONDON, working_calendar

from ..models import (
    OPEN_MIGRATION_OUTCOMES,
    AttemptKind,
    MigrationAttempt,
    MigrationOutcome,
    RetryPolicy,
    SessionAttempt,
)
from ..policies import attempts_exhausted, retry_policy_for, window_end
from ..signals import migration_scheduled
from .common import authorise_operator, lock_installation, record_on_cases

UNSCHEDULABLE = (MigrationStatus.MIGRATED, MigrationStatus.EXCLUDED)


def firmware_upgraded(installation: Installation) -> bool:
    return MigrationAttempt.objects.filter(
        installation=installation, kind=AttemptKind.FIRMWARE_UPGRADE, outcome=MigrationOutcome.SUCCEEDED
    ).exists()


def sms_used(installation: Installation | int) -> int:
    return SessionAttempt.objects.filter(installation=installation).aggregate(n=Sum("sms_sent"))["n"] or 0


def migration_schedule(
    *,
    installation: Installation | int,
    actor: Any = None,
    window_start: datetime | None = None,
    reason: str = "",
    case: Case | None = None,
    policy: RetryPolicy | None = None,
) -> MigrationAttempt:
    """Schedule a migration attempt (first or ad hoc): a window and its first session attempt.

    Refused when the installation is migrated or excluded, already has an open attempt, or has used
    its policy's migration attempts.
    """
    authorise_operator(actor, "schedule migration attempts")
    if window_start is not None and timezone.is_naive(window_start):
        raise ValidationFailed.field("window_start", "Give a time zone with the window start.")
    if len(reason) > 200:
        raise ValidationFailed.field("reason", "At most 200 characters.")
    with transaction.atomic():
        locked = lock_installation(installation)
        if locked.migration_status in UNSCHEDULABLE:
            raise ValidationFailed.field(
                "installation", f"The installation is {locked.get_migration_status_display().lower()}."
            )
        open_attempt = MigrationAttempt.objects.filter(installation=locked, outcome__in=OPEN_MIGRATION_OUTCOMES).first()
        if open_attempt is not None:
            raise ValidationFailed.field(
                "installation", f"Migration attempt {open_attempt.number} is already {open_attempt.get_outcome_display().lower()}."
            )
        policy = policy or retry_policy_for(locked)
        if attempts_exhausted(policy, locked.migration_attempt_count):
            raise ValidationFailed.field(
                "installation",
                f"{locked.migration_attempt_count} migration attempts have failed (policy limit "
                f"{policy.migration_attempts_before_exclusion}); propose exclusion instead.",
            )
        if case is not None:
            cases = [case]
        else:
            # An ad-hoc retry drives the installation's open cases (they resolve if it migrates) and
            # is recorded on each of them; an exclusion proposal is left alone.
            cases = list(
                Case.objects.filter(installation=locked, state__in=OPEN_STATES)
                .exclude(state=CaseState.EXCLUSION_PROPOSED)
                .order_by("pk")
            )
        attempt = create_attempt(
            installation=locked,
            policy=policy,
            window_start=window_start or timezone.now(),
            actor=actor,
            reason=reason or "Scheduled by DCC.",
            cases=cases,
        )
    return attempt


def migration_schedule_for_case(*, case: Case, actor: Any) -> MigrationAttempt:
    """The case fired ``schedule_retry`` (inside its transaction): attach it to the open attempt of
    its installation, or schedule one now."""
    existing = MigrationAttempt.objects.filter(
        installation_id=case.installation_id, outcome__in=OPEN_MIGRATION_OUTCOMES
    ).first()
    if existing is None:
        installation = lock_installation(case.installation_id)
        if installation.migration_status in UNSCHEDULABLE:
            raise ValidationFailed.field(
                "installation", f"The installation is {installation.get_migration_status_display().lower()}."
            )
        try:
            with transaction.atomic():
                return create_attempt(
                    installation=installation,
                    policy=retry_policy_for(installation),
                    window_start=timezone.now(),
                    actor=actor,
                    reason=f"Retry requested on {case.reference}.",
                    cases=[case],
                )
        except IntegrityError:  # another request opened one concurrently: join it
            existing = MigrationAttempt.objects.get(
                installation_id=case.installation_id, outcome__in=OPEN_MIGRATION_OUTCOMES
            )
    existing.cases.add(case)
    record_on_cases(
        [case],
        body=f"Joined migration attempt {existing.number} (window {_fmt(existing.window_start)} to {_fmt(existing.window_end)}).",
        data={"migration_attempt": existing.pk, "number": existing.number},
        actor=actor,
    )
    return existing


def create_attempt(
    *,
    installation: Installation,
    policy: RetryPolicy,
    window_start: datetime,
    actor: Any = None,
    reason: str = "",
    cases: list[Case] | None = None,
    kind: str | None = None,
) -> MigrationAttempt:
    """Write a migration attempt and its first session attempt (caller holds the installation lock)."""
    if kind is None:
        kind = (
            AttemptKind.FIRMWARE_UPGRADE
            if policy.firmware_upgrade_first and not firmware_upgraded(installation)
            else AttemptKind.MIGRATION
        )
    number = (MigrationAttempt.objects.filter(installation=installation).aggregate(n=Max("number"))["n"] or 0) + 1
    attempt = MigrationAttempt.objects.create(
        installation=installation,
        kind=kind,
        number=number,
        window_start=window_start,
        window_end=window_end(policy, window_start),
        policy=policy,
        policy_revision=policy.revision,
        requested_by=actor,
        reason=reason[:200],
    )
    SessionAttempt.objects.create(
        migration_attempt=attempt,
        installation=installation,
        cohort=installation.cohort,
        number=1,
        due_at=window_start,
        timeout_seconds=policy.session_timeout_seconds,
        policy=policy,
        policy_revision=policy.revision,
    )
    if installation.migration_status != MigrationStatus.PARTIALLY_MIGRATED:
        installation.migration_status = MigrationStatus.SCHEDULED
        installation.save(update_fields=["migration_status", "updated_at"])
    cases = [c for c in (cases or []) if c is not None]
    if cases:
        attempt.cases.add(*cases)
    what = attempt.get_kind_display().lower()
    record_on_cases(
        cases,
        body=f"{what.capitalize()} attempt {number} scheduled: window {_fmt(attempt.window_start)} to "
        f"{_fmt(attempt.window_end)} (policy {policy.name}). {reason}".strip(),
        data={
            "migration_attempt": attempt.pk,
            "number": number,
            "kind": kind,
            "window_start": attempt.window_start.isoformat(),
            "window_end": attempt.window_end.isoformat(),
            "policy": policy.pk,
            "policy_revision": policy.revision,
        },
        actor=actor,
    )
    if installation.installation_type == InstallationType.DORMANT:
        # MEHR.md §6: DCC notifies the Responsible Supplier of each dormant schedule.
        record_on_cases(
            cases,
            kind=EventKind.NOTIFICATION,
            body=f"Responsible Supplier notified: {what} scheduled for {_fmt(attempt.window_start)}.",
            data={"migration_attempt": attempt.pk, "notified": installation.responsible_supplier_id},
        )
    # For notification senders (issue 6): sent inside the transaction, like case signals.
    migration_scheduled.send(sender=MigrationAttempt, attempt=attempt)
    return attempt


def reschedule_after(
    *, attempt: MigrationAttempt, failed_at: datetime, cases: list[Case], kind: str | None = None,
    delay_working_days: int | None = None,
) -> MigrationAttempt:
    """Open the next window after ``attempt`` failed (or, dormant, after its firmware upgrade succeeded)."""
    from ..policies import reschedule_window_start

    policy = attempt.policy if not attempt.policy.auto_select else retry_policy_for(attempt.installation)
    if delay_working_days is not None:
        # Same arithmetic with another delay (the dormant firmware → migration gap).
        policy_for_delay = RetryPolicy(
            reschedule_delay_working_days=delay_working_days, window_opens_at=policy.window_opens_at
        )
        start = reschedule_window_start(policy_for_delay, failed_at=failed_at, calendar=working_calendar())
    else:
        start = reschedule_window_start(policy, failed_at=failed_at, calendar=working_calendar())
    start = max(start, failed_at + timedelta(seconds=1))
    start = with_allocation(start, cohort=attempt.installation.cohort)
    return create_attempt(
        installation=attempt.installation,
        policy=policy,
        window_start=start,
        reason=f"Rescheduled after attempt {attempt.number}.",
        cases=cases,
        kind=kind,
    )


def with_allocation(start: datetime, *, cohort: str) -> datetime:
    """Move a rescheduled window to the first working day on or after ``start``'s that still has
    room in the cohort's daily allocation (same local opening time). Windows count on the London
    date they open; cancelled ones free their place. Concurrent reschedules of one cohort are
    serialised by a transaction-level advisory lock, so two cannot both take the last place."""
    from ..policies import daily_allocation, first_day_with_allocation

    capacity = daily_allocation(cohort)
    if capacity <= 0:
        return start
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"mehr-allocation:{cohort}"])
    local = start.astimezone(LONDON)

    def used(day: date) -> int:
        return (
            MigrationAttempt.objects.filter(
                installation__cohort=cohort,
                window_start__gte=datetime.combine(day, time.min, LONDON),
                window_start__lt=datetime.combine(day + timedelta(days=1), time.min, LONDON),
            )
            .exclude(outcome=MigrationOutcome.CANCELLED)
            .count()
        )

    day = first_day_with_allocation(local.date(), capacity=capacity, used=used, calendar=working_calendar())
    return start if day == local.date() else datetime.combine(day, local.time(), LONDON)


def _fmt(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")
