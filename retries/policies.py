"""Choosing a retry policy and the arithmetic of MEHR.md §5 (intervals, windows, reschedules).

The arithmetic is pure (no database, no clock) so that it is tested with fixed inputs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from cases.domain import InstallationType
from cases.workdays import LONDON, WorkingCalendar

from .models import RetryPolicy

if TYPE_CHECKING:
    from cases.models import Installation

DEFAULT_ACTIVE_POLICY = "Default (active)"
DEFAULT_DORMANT_POLICY = "Default (dormant)"


# --- arithmetic ---------------------------------------------------------------------------------


def interval_before(policy: RetryPolicy, next_number: int, rng: random.Random | None = None) -> timedelta:
    """The wait before session attempt ``next_number`` (2, 3 …) after attempt ``next_number - 1`` failed.

    Without backoff it is the base interval; with backoff the base times multiplier^(n-2), capped;
    with full jitter a uniform random time in [0, that].
    """
    if next_number < 2:
        raise ValueError("the first attempt has no interval before it")
    seconds = float(policy.attempt_interval_seconds)
    if policy.backoff_enabled:
        seconds = min(seconds * policy.backoff_multiplier ** (next_number - 2), float(policy.max_interval_seconds))
    if policy.jitter_enabled:
        seconds = (rng or random.Random()).uniform(0.0, seconds)
    return timedelta(seconds=seconds)


def window_end(policy: RetryPolicy, window_start: datetime) -> datetime:
    return window_start + timedelta(minutes=policy.window_length_minutes)


def next_session_due(
    policy: RetryPolicy, *, window_end_at: datetime, failed_number: int, finished_at: datetime,
    rng: random.Random | None = None,
) -> datetime | None:
    """When the next session attempt is due, or None when the window has no attempt left."""
    if failed_number >= policy.session_attempts_per_window:
        return None
    due = finished_at + interval_before(policy, failed_number + 1, rng)
    if due >= window_end_at:
        return None
    return due


def reschedule_window_start(policy: RetryPolicy, *, failed_at: datetime, calendar: WorkingCalendar) -> datetime:
    """The next window: ``reschedule_delay_working_days`` working days after the failure's (London) date,
    opening at the policy's local time."""
    day = failed_at.astimezone(LONDON).date()
    target: date = calendar.add_working_days(day, policy.reschedule_delay_working_days)
    if policy.reschedule_delay_working_days == 0:
        target = calendar.next_working_day(day, include_today=True)
    return datetime.combine(target, policy.window_opens_at, LONDON)


def first_day_with_allocation(
    day: date, *, capacity: int, used: Callable[[date], int], calendar: WorkingCalendar, horizon_days: int = 366
) -> date:
    """MEHR.md §5 "next working day *with allocation*": ``day`` if it is a working day with room
    (fewer than ``capacity`` windows already open on it), else the first working day after it that
    has room. ``capacity`` 0 means no limit. ``used(day)`` counts the windows already on a day.
    Past ``horizon_days`` the day found last is returned (a full year means the allocation is
    misconfigured; waiting forever would lose the installation)."""
    current = day if calendar.is_working_day(day) else calendar.next_working_day(day)
    if capacity <= 0:
        return current
    last = day + timedelta(days=horizon_days)
    while used(current) >= capacity and current < last:
        current = calendar.next_working_day(current)
    return current


def daily_allocation(cohort: str) -> int:
    """Windows per working day for a cohort (MEHR["RETRY_DAILY_ALLOCATION_BY_COHORT"], else
    MEHR["RETRY_DAILY_ALLOCATION"]; 0 = no limit)."""
    from django.conf import settings

    by_cohort = settings.MEHR.get("RETRY_DAILY_ALLOCATION_BY_COHORT") or {}
    return int(by_cohort.get(cohort, settings.MEHR.get("RETRY_DAILY_ALLOCATION", 0)))


def attempts_exhausted(policy: RetryPolicy, failed_migration_attempts: int) -> bool:
    return failed_migration_attempts >= policy.migration_attempts_before_exclusion


# --- selection ----------------------------------------------------------------------------------


def _dormant(installation: Installation) -> bool:
    return installation.installation_type == InstallationType.DORMANT


def _candidates(installation: Installation, on: date) -> list[RetryPolicy]:
    qs = (
        RetryPolicy.objects.filter(is_active=True, auto_select=True)
        .filter(Q(mehr_version__isnull=True) | Q(mehr_version__effective_from__lte=on))
        .filter(Q(cohort="") | Q(cohort=installation.cohort))
        .filter(Q(installation_type="") | Q(installation_type=installation.installation_type))
        .select_related("mehr_version")
        .order_by(
            F("mehr_version__effective_from").desc(nulls_last=True),
            "-cohort",  # a named cohort sorts before the blank one
            "-installation_type",
            "pk",
        )
    )
    policies = list(qs)
    if not _dormant(installation):
        # A type-less policy is for active (and mixed) installations; dormant ones need their own.
        return policies
    dormant = [p for p in policies if p.installation_type == InstallationType.DORMANT]
    return dormant


def retry_policy_for(installation: Installation, *, on: date | None = None) -> RetryPolicy:
    """The policy in force for this installation. Creates the default policies when none exist yet."""
    on = on or timezone.localdate()
    candidates = _candidates(installation, on)
    if candidates:
        return candidates[0]
    retry_policies_ensure_defaults()
    return RetryPolicy.objects.get(name=DEFAULT_DORMANT_POLICY if _dormant(installation) else DEFAULT_ACTIVE_POLICY)


def migration_attempts_limit_for(installation: Installation) -> int:
    """Read by the case lifecycle's `installation_has_attempts_left` (no writes)."""
    candidates = _candidates(installation, timezone.localdate())
    if candidates:
        return candidates[0].migration_attempts_before_exclusion
    return RetryPolicy._meta.get_field("migration_attempts_before_exclusion").get_default()


def retry_policies_ensure_defaults() -> None:
    """Create the active and dormant default policies (MEHR.md §5 and §6 numbers) if missing."""
    defaults = {
        DEFAULT_ACTIVE_POLICY: {"notes": "MEHR.md §5 defaults."},
        DEFAULT_DORMANT_POLICY: {
            "installation_type": InstallationType.DORMANT,
            "firmware_upgrade_first": True,
            "notes": "MEHR.md §6: DCC drives dormant schedules: firmware upgrade first, then migration.",
        },
    }
    for name, values in defaults.items():
        if RetryPolicy.objects.filter(name=name).exists():
            continue
        try:
            with transaction.atomic():
                RetryPolicy.objects.create(name=name, **values)
        except IntegrityError:  # created concurrently
            pass
