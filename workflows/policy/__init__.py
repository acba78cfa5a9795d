"""Policy profiles and the date arithmetic of SOP_RULES §0.4 (pure Python, no Flask).

Profiles are data (profiles/*.json, schema profile.schema.json); functions here interpret them.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from .calendar import (DEFAULT_CALENDAR, DEFAULT_TIMEZONE, WorkingCalendar, add_months, day_of_month_deadline, end_of_day,
                       period_end, require_aware)
from .profiles import (CATEGORIES, SEVERITIES, PolicyError, load_profiles, merge, validate_params)
from .rules import (complaint_deadlines, draw_sample, explain, role_quotas, sample_size, smp02_sample_size,
                    visit_window, window_bounds)


def add_working_days(start: datetime, n: int, timezone: str = DEFAULT_TIMEZONE,
                     calendar: WorkingCalendar | None = None) -> datetime:
    """24:00 (23:59:59.999999 local) of the n-th PRC working day after ``start`` (AMB-20, AMB-39)."""
    require_aware(start, "start")
    return period_end(start, n, "working_day", ZoneInfo(timezone), calendar or DEFAULT_CALENDAR)


def is_working_day(day) -> bool:
    return DEFAULT_CALENDAR.is_working_day(day.date() if isinstance(day, datetime) else day)


# Functions BPMN script tasks may call (merged into workflows.engine.default_script_functions()).
SCRIPT_FUNCTIONS = {
    "visit_window": visit_window,
    "sample_size": sample_size,
    "draw_sample": draw_sample,
    "complaint_deadlines": complaint_deadlines,
    "add_working_days": add_working_days,
    "is_working_day": is_working_day,
    "add_months": add_months,
    "policy_explain": explain,
}

__all__ = ["CATEGORIES", "SEVERITIES", "PolicyError", "WorkingCalendar", "SCRIPT_FUNCTIONS", "add_months",
           "add_working_days", "complaint_deadlines", "day_of_month_deadline", "draw_sample", "end_of_day",
           "explain", "load_profiles", "merge", "role_quotas", "sample_size", "smp02_sample_size",
           "validate_params", "visit_window", "window_bounds"]
