"""Policy arithmetic with fixed inputs, and choosing the policy for an installation."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from cases.domain import Cohort, InstallationType
from cases.workdays import WorkingCalendar
from retries.models import RetryPolicy
from retries.policies import (
    DEFAULT_ACTIVE_POLICY,
    DEFAULT_DORMANT_POLICY,
    attempts_exhausted,
    daily_allocation,
    first_day_with_allocation,
    interval_before,
    migration_attempts_limit_for,
    next_session_due,
    reschedule_window_start,
    retry_policy_for,
    window_end,
)
from tests.factories import InstallationFactory, MehrVersionFactory

LONDON = ZoneInfo("Europe/London")
UTC = ZoneInfo("UTC")


def policy(**kwargs) -> RetryPolicy:  # type: ignore[no-untyped-def]
    return RetryPolicy(name="p", **kwargs)


def test_defaults_are_mehr_section_5() -> None:
    p = policy()
    assert p.wake_sms_per_attempt == 2
    assert p.session_timeout_seconds == 300
    assert p.session_attempts_per_window == 3
    assert p.attempt_interval_seconds == 900
    assert p.backoff_multiplier == 2.0 and not p.backoff_enabled and not p.jitter_enabled
    assert p.window_length_minutes == 24 * 60
    assert p.reschedule_delay_working_days == 1
    assert p.migration_attempts_before_exclusion == 5


def test_fixed_interval() -> None:
    p = policy()
    assert interval_before(p, 2) == interval_before(p, 3) == timedelta(minutes=15)
    with pytest.raises(ValueError):
        interval_before(p, 1)


def test_exponential_backoff_is_capped() -> None:
    p = policy(backoff_enabled=True, backoff_multiplier=2.0, attempt_interval_seconds=900, max_interval_seconds=2700)
    assert [interval_before(p, n).total_seconds() for n in (2, 3, 4, 5)] == [900, 1800, 2700, 2700]


def test_full_jitter_stays_within_zero_and_the_capped_interval() -> None:
    p = policy(backoff_enabled=True, jitter_enabled=True, attempt_interval_seconds=900, max_interval_seconds=2700)
    rng = random.Random(42)
    for n in (2, 3, 4, 6):
        cap = min(900 * 2 ** (n - 2), 2700)
        values = [interval_before(p, n, rng).total_seconds() for _ in range(200)]
        assert all(0 <= v <= cap for v in values)
        assert max(values) > cap * 0.8 and min(values) < cap * 0.2  # spread over the whole range
    # Reproducible for a seeded generator.
    assert interval_before(p, 3, random.Random(7)) == interval_before(p, 3, random.Random(7))


def test_window_end_and_next_session_due_inside_the_window() -> None:
    p = policy(window_length_minutes=60, attempt_interval_seconds=900, session_attempts_per_window=3)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    end = window_end(p, start)
    assert end == start + timedelta(hours=1)
    first_failed = start + timedelta(minutes=5)
    assert next_session_due(p, window_end_at=end, failed_number=1, finished_at=first_failed) == first_failed + timedelta(minutes=15)
    # The third attempt was the last one allowed.
    assert next_session_due(p, window_end_at=end, failed_number=3, finished_at=first_failed) is None
    # An attempt that would fall after the window closes is not scheduled.
    late = start + timedelta(minutes=50)
    assert next_session_due(p, window_end_at=end, failed_number=1, finished_at=late) is None


def test_reschedule_is_the_next_working_day_skipping_weekends_and_bank_holidays() -> None:
    calendar = WorkingCalendar()
    p = policy(reschedule_delay_working_days=1, window_opens_at=time(8, 0))
    # Friday 2026-04-03 is Good Friday, Monday 2026-04-06 Easter Monday: Thursday's failure → Tuesday.
    failed = datetime(2026, 4, 2, 16, 0, tzinfo=LONDON)
    assert reschedule_window_start(p, failed_at=failed, calendar=calendar) == datetime(2026, 4, 7, 8, 0, tzinfo=LONDON)
    # A Friday failure → Monday; two working days → Tuesday.
    friday = datetime(2026, 3, 6, 23, 30, tzinfo=LONDON)
    assert reschedule_window_start(p, failed_at=friday, calendar=calendar).date() == date(2026, 3, 9)
    p2 = policy(reschedule_delay_working_days=2, window_opens_at=time(0, 0))
    assert reschedule_window_start(p2, failed_at=friday, calendar=calendar) == datetime(2026, 3, 10, 0, 0, tzinfo=LONDON)
    # DCC non-working days count too.
    with_dcc_day = WorkingCalendar(extra_non_working=frozenset({date(2026, 3, 9)}))
    assert reschedule_window_start(p, failed_at=friday, calendar=with_dcc_day).date() == date(2026, 3, 10)


def test_next_working_day_with_allocation() -> None:
    calendar = WorkingCalendar()
    full = {date(2026, 4, 2): 3, date(2026, 4, 7): 3, date(2026, 4, 8): 2}
    used = full.get
    # Thursday 2 April is full (3 of 3); Good Friday and Easter Monday are not working days; Tuesday
    # 7 April is full too; Wednesday has one place left.
    assert first_day_with_allocation(date(2026, 4, 2), capacity=3, used=lambda d: used(d, 0), calendar=calendar) == date(
        2026, 4, 8
    )
    # Room on the day itself; a capacity of 0 is no limit; a non-working start moves to a working day.
    assert first_day_with_allocation(date(2026, 4, 8), capacity=3, used=lambda d: used(d, 0), calendar=calendar) == date(
        2026, 4, 8
    )
    assert first_day_with_allocation(date(2026, 4, 2), capacity=0, used=lambda d: 99, calendar=calendar) == date(2026, 4, 2)
    assert first_day_with_allocation(date(2026, 4, 4), capacity=3, used=lambda d: 0, calendar=calendar) == date(2026, 4, 7)
    # Everything full: it gives up at the horizon instead of looping for ever.
    assert first_day_with_allocation(date(2026, 4, 2), capacity=1, used=lambda d: 1, calendar=calendar, horizon_days=10) >= date(
        2026, 4, 12
    )


def test_daily_allocation_per_cohort_comes_from_settings(settings) -> None:  # type: ignore[no-untyped-def]
    settings.MEHR = {**settings.MEHR, "RETRY_DAILY_ALLOCATION": 50, "RETRY_DAILY_ALLOCATION_BY_COHORT": {"FOC": 7}}
    assert daily_allocation("FOC") == 7
    assert daily_allocation("IOC") == 50


def test_exclusion_after_five_failed_attempts() -> None:
    p = policy()
    assert [attempts_exhausted(p, n) for n in range(7)] == [False] * 5 + [True] * 2


@pytest.mark.django_db
def test_default_policies_exist_and_dormant_has_its_own() -> None:
    active = retry_policy_for(InstallationFactory())
    dormant = retry_policy_for(InstallationFactory(installation_type=InstallationType.DORMANT))
    assert active.name == DEFAULT_ACTIVE_POLICY and not active.firmware_upgrade_first
    assert dormant.name == DEFAULT_DORMANT_POLICY and dormant.firmware_upgrade_first


@pytest.mark.django_db
def test_most_specific_policy_in_force_wins() -> None:
    v1 = MehrVersionFactory(version="1.0", effective_from=date(2019, 7, 1))
    v2 = MehrVersionFactory(version="2.0", published_on=date(2021, 2, 15), effective_from=date(2021, 3, 15))
    foc = InstallationFactory(cohort=Cohort.FOC)
    ioc = InstallationFactory(cohort=Cohort.IOC)
    RetryPolicy.objects.create(name="v1 any", mehr_version=v1)
    RetryPolicy.objects.create(name="v1 FOC", mehr_version=v1, cohort=Cohort.FOC, session_attempts_per_window=4)
    RetryPolicy.objects.create(name="v2 FOC", mehr_version=v2, cohort=Cohort.FOC, migration_attempts_before_exclusion=3)
    RetryPolicy.objects.create(name="off", cohort=Cohort.FOC, installation_type="ACTIVE", is_active=False)
    assert retry_policy_for(foc, on=date(2020, 1, 1)).name == "v1 FOC"
    assert retry_policy_for(foc, on=date(2022, 1, 1)).name == "v2 FOC"
    assert retry_policy_for(ioc, on=date(2022, 1, 1)).name == "v1 any"
    with freeze_time("2022-01-01"):
        assert migration_attempts_limit_for(foc) == 3


@pytest.mark.django_db
def test_editing_a_policy_bumps_its_revision() -> None:
    p = RetryPolicy.objects.create(name="edited")
    assert p.revision == 1
    p.session_attempts_per_window = 4
    p.save()
    p.refresh_from_db()
    assert p.revision == 2
