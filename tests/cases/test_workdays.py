from datetime import date, datetime

import pytest

from cases.models import NonWorkingDay
from cases.workdays import LONDON, WorkingCalendar, working_calendar

cal = WorkingCalendar()


def test_weekends_and_bank_holidays_are_not_working_days() -> None:
    assert cal.is_working_day(date(2026, 11, 27))  # Friday
    assert not cal.is_working_day(date(2026, 11, 28))  # Saturday
    assert not cal.is_working_day(date(2026, 12, 25))  # Christmas Day
    assert not cal.is_working_day(date(2026, 12, 28))  # Boxing Day (substitute)


def test_add_working_days_skips_christmas() -> None:
    # Thu 24 Dec 2026 + 1 working day: 25, 26, 27, 28 are not working days → Tue 29 Dec.
    assert cal.add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 29)
    assert cal.add_working_days(date(2026, 11, 27), 5) == date(2026, 12, 4)
    assert cal.add_working_days(date(2026, 11, 28), 0) == date(2026, 11, 30)
    with pytest.raises(ValueError):
        cal.add_working_days(date(2026, 11, 27), -1)


def test_working_days_between() -> None:
    assert cal.working_days_between(date(2026, 11, 27), date(2026, 12, 4)) == 5
    assert cal.working_days_between(date(2026, 12, 4), date(2026, 11, 27)) == 0


def test_working_time_counts_only_working_days() -> None:
    friday_noon = datetime(2026, 11, 27, 12, tzinfo=LONDON)
    monday_noon = datetime(2026, 11, 30, 12, tzinfo=LONDON)
    assert cal.working_seconds_between(friday_noon, monday_noon) == 24 * 3600
    assert cal.add_working_time(friday_noon, 1) == monday_noon


@pytest.mark.django_db
def test_dcc_non_working_days_from_the_database() -> None:
    NonWorkingDay.objects.create(date=date(2026, 11, 30), description="DCC change freeze")
    calendar = working_calendar()
    assert not calendar.is_working_day(date(2026, 11, 30))
    assert calendar.add_working_days(date(2026, 11, 27), 1) == date(2026, 12, 1)
