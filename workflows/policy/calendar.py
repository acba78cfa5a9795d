"""Date arithmetic of SOP_RULES §0.4 (Civil Code counting) and a Chinese working-day calendar.

Design (docs/DECISIONS.md): a deadline that ends "at 24:00 of day N" (民法典 Art. 201/203, AMB-39)
is represented as the last microsecond of that local day, 23:59:59.999999 in the company time
zone, so "on time" is simply ``done <= due`` and the value stays inside the day it names.
Hour periods (AMB-33) run from the exact instant.
"""
from __future__ import annotations

import calendar as _cal
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

DEFAULT_TIMEZONE = "Asia/Shanghai"
UNITS = ("calendar_day", "working_day", "week", "month", "hour")


def require_aware(value: datetime, name: str = "trigger") -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}: a date-time with a UTC offset is required, e.g. 2024-01-31T10:00:00+08:00")
    return value


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """24:00 of ``day`` in ``zone``, represented as 23:59:59.999999 local."""
    return datetime.combine(day, time.max, tzinfo=zone)


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def add_months(day: date, months: int) -> date:
    """Civil Code Art. 202: the corresponding day of the month, or its last day if there is none
    (2024-01-31 + 1 month = 2024-02-29)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, _cal.monthrange(year, month)[1]))


class WorkingCalendar:
    """PRC working days: Mon–Fri minus statutory holidays, plus make-up working days (调休).

    Both lists come from the ``holidays`` package (China.weekend_workdays holds the weekend days
    that are working days), so nothing is hand-maintained here (AMB-20).
    """

    def __init__(self, extra_holidays: set[date] | None = None, extra_workdays: set[date] | None = None):
        self.extra_holidays = set(extra_holidays or ())
        self.extra_workdays = set(extra_workdays or ())

    @staticmethod
    @lru_cache(maxsize=64)
    def _year(year: int):
        return holidays.China(years=year)

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        return self._year(day.year).is_working_day(day)

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after ``day`` (the start day itself is excluded, AMB-39)."""
        if n < 0:
            raise ValueError("working days must not be negative")
        current, left = day, n
        while left:
            current += timedelta(days=1)
            if self.is_working_day(current):
                left -= 1
        return current


DEFAULT_CALENDAR = WorkingCalendar()


def offset_day(day: date, n: int, unit: str, cal: WorkingCalendar) -> date:
    if unit == "calendar_day":
        return day + timedelta(days=n)
    if unit == "week":
        return day + timedelta(weeks=n)
    if unit == "month":
        return add_months(day, n)
    if unit == "working_day":
        return cal.add_working_days(day, n)
    raise ValueError(f"unit: unknown unit {unit!r} (one of {', '.join(UNITS)})")


def period_end(trigger: datetime, n: int, unit: str, zone: ZoneInfo, cal: WorkingCalendar | None = None) -> datetime:
    """End of a period of n units from trigger: day-based → 24:00 of the last day; hours → exact."""
    cal = cal or DEFAULT_CALENDAR
    if unit == "hour":
        return trigger + timedelta(hours=n)
    local = trigger.astimezone(zone).date()
    return end_of_day(offset_day(local, n, unit, cal), zone)


def period_start(trigger: datetime, n: int, unit: str, zone: ZoneInfo, cal: WorkingCalendar | None = None) -> datetime:
    """Opening of "after n units": T itself for n=0, else 00:00 of the n-th day (hours: exact)."""
    cal = cal or DEFAULT_CALENDAR
    if n == 0:
        return trigger.astimezone(zone)
    if unit == "hour":
        return (trigger + timedelta(hours=n)).astimezone(zone)
    local = trigger.astimezone(zone).date()
    return start_of_day(offset_day(local, n, unit, cal), zone)


def day_of_month_deadline(trigger: datetime, day: int, months_after: int, zone: ZoneInfo,
                          strict: bool = False) -> datetime:
    """"Before the Nth of the (next) month" (AMB-43): inclusive → 24:00 of day N; strict → day N−1.
    A day beyond the month's length clamps to its last day."""
    local = trigger.astimezone(zone).date()
    first = add_months(local.replace(day=1), months_after)
    last = _cal.monthrange(first.year, first.month)[1]
    target = first.replace(day=min(day, last))
    if strict:
        target -= timedelta(days=1)
    return end_of_day(target, zone)


def period_bounds(trigger: datetime, period: str, zone: ZoneInfo) -> tuple[date, date]:
    """First and last local day of the month/quarter/half-year/year containing trigger."""
    local = trigger.astimezone(zone).date()
    size = {"month": 1, "quarter": 3, "half_year": 6, "year": 12}[period]
    first_month = (local.month - 1) // size * size + 1
    first = date(local.year, first_month, 1)
    return first, add_months(first, size) - timedelta(days=1)
