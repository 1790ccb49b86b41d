"""Working days on the England and Wales calendar (bank holidays from `holidays`) plus DCC days.

Used by SLA clocks (response/resolution targets) and by the retry engine (reschedule delays).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")


@dataclass
class WorkingCalendar:
    """Weekends, England and Wales bank holidays and extra DCC non-working days are not working days."""

    extra_non_working: frozenset[date] = field(default_factory=frozenset)

    @cached_property
    def _bank_holidays(self) -> holidays.HolidayBase:
        return holidays.country_holidays("GB", subdiv="ENG")

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._bank_holidays and day not in self.extra_non_working

    def next_working_day(self, day: date, *, include_today: bool = False) -> date:
        current = day if include_today else day + timedelta(days=1)
        while not self.is_working_day(current):
            current += timedelta(days=1)
        return current

    def add_working_days(self, day: date, days: int) -> date:
        """The date `days` working days after `day` (0 → `day` itself if working, else the next one)."""
        if days < 0:
            raise ValueError("days must not be negative")
        current = self.next_working_day(day, include_today=True)
        for _ in range(days):
            current = self.next_working_day(current)
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: 0 when end <= start."""
        count, current = 0, start
        while current < end:
            current += timedelta(days=1)
            count += self.is_working_day(current)
        return count

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Elapsed time counting only working days (whole days, local midnight to midnight)."""
        if end <= start:
            return 0.0
        start_l, end_l = start.astimezone(LONDON), end.astimezone(LONDON)
        total = 0.0
        day = start_l.date()
        while day <= end_l.date():
            if self.is_working_day(day):
                day_start = datetime.combine(day, time.min, LONDON)
                day_end = datetime.combine(day + timedelta(days=1), time.min, LONDON)
                lo, hi = max(start_l, day_start), min(end_l, day_end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total

    def add_working_time(self, start: datetime, working_days: float) -> datetime:
        """The moment `working_days` days of working time after `start` (skipping non-working days)."""
        remaining = timedelta(days=working_days)
        current = start.astimezone(LONDON)
        while remaining > timedelta(0):
            day = current.date()
            day_end = datetime.combine(day + timedelta(days=1), time.min, LONDON)
            if self.is_working_day(day):
                available = day_end - current
                if remaining <= available:
                    return current + remaining
                remaining -= available
            current = day_end
        return current


def working_calendar() -> WorkingCalendar:
    """The calendar with DCC-defined non-working days from the database (one query)."""
    from cases.models import NonWorkingDay

    return WorkingCalendar(extra_non_working=frozenset(NonWorkingDay.objects.values_list("date", flat=True)))
