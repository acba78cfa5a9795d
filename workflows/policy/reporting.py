"""Statistics periods and the periodic reports of a profile (SOP_RULES §4.2, §4.4, §6; AMB-07/08/43).

Pure Python: which period a moment belongs to (month, quarter, half-year, year in the company zone),
the previous and the same period a year earlier (trend, FLOW-12 / 003-FC 3.1), and which reports a
profile asks for, when each opens (the timer start event of its BPMN flow) and when it is due.

Reports of a profile:
* ``monthly_summary`` — 《月回访汇总表》 (P000-1/P000-7, ``statistics.approval_day`` set): compiled before
  the ``report_due`` day (strict: the day before), reviewed by the project manager, submitted to the VP on the
  ``approval_day``. It summarises "this month's" records (本月, V1-3), so its month runs from one cut-off to
  the next: the cut-off is 00:00 of the due day, when compiling opens.
* ``rate_report`` — 《回访率报表》 + 《客户满意度得分统计表》 (P001-S, ``report_due.months_after`` set): the
  previous calendar month, due on the ``report_due`` day of the next month (KPI-06, inclusive, AMB-43).
* ``statistics`` — every other profile: one report per period kind in ``statistics.periods`` (AMB-07), opened
  when the period ends and due at 24:00 of the ``STATISTICS_DUE_DAYS``-th day after it **[DEFAULT – not in
  seeds]**: the seeds say only "at quarter/month end".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from .calendar import add_months, day_of_month_deadline, end_of_day, require_aware, start_of_day
from .profiles import PolicyError

SIZES = {"month": 1, "quarter": 3, "half_year": 6, "year": 12}
STATISTICS_DUE_DAYS = 5
REPORT_PROCESSES = {"monthly_summary": "monthly_summary", "rate_report": "rate_report",
                    "statistics": "period_statistics"}


def _zone(params: dict | None) -> ZoneInfo:
    return ZoneInfo((params or {}).get("timezone") or "Asia/Shanghai")


@dataclass(frozen=True)
class Period:
    """A calendar period [first, last] (local days, inclusive) of one kind."""
    kind: str
    first: date
    last: date

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.first:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        if self.kind == "half_year":
            return f"{self.first.year}-H{(self.first.month - 1) // 6 + 1}"
        if self.kind == "year":
            return f"{self.first.year}"
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end): 00:00 of the first day to 00:00 of the day after the last, local time."""
        return start_of_day(self.first, zone), start_of_day(self.last + timedelta(days=1), zone)

    def shifted(self, periods: int) -> "Period":
        if self.kind not in SIZES:
            days = (self.last - self.first).days + 1
            return Period(self.kind, self.first + timedelta(days=days * periods),
                          self.last + timedelta(days=days * periods))
        size = SIZES[self.kind]
        first = add_months(self.first, size * periods)
        return Period(self.kind, first, add_months(first, size) - timedelta(days=1))

    def previous(self) -> "Period":
        return self.shifted(-1)

    def year_earlier(self) -> "Period":
        if self.kind not in SIZES:
            return Period(self.kind, add_months(self.first, -12), add_months(self.last, -12))
        return self.shifted(-12 // SIZES[self.kind])

    def months(self) -> list["Period"]:
        """The calendar months inside this period (the annual grade averages monthly scores, KPI-09)."""
        out, first = [], date(self.first.year, self.first.month, 1)
        while first <= self.last:
            out.append(Period("month", first, add_months(first, 1) - timedelta(days=1)))
            first = add_months(first, 1)
        return out


def period_containing(at: datetime | date, kind: str, zone: ZoneInfo | None = None) -> Period:
    if kind not in SIZES:
        raise PolicyError("period", f"unknown period kind {kind!r} (one of {', '.join(SIZES)})")
    if isinstance(at, datetime):
        require_aware(at, "at")
        local = at.astimezone(zone or ZoneInfo("Asia/Shanghai")).date()
    else:
        local = at
    size = SIZES[kind]
    first = date(local.year, (local.month - 1) // size * size + 1, 1)
    return Period(kind, first, add_months(first, size) - timedelta(days=1))


_LABELS = [
    (re.compile(r"^(\d{4})-(\d{2})$"), "month"),
    (re.compile(r"^(\d{4})-Q([1-4])$"), "quarter"),
    (re.compile(r"^(\d{4})-H([12])$"), "half_year"),
    (re.compile(r"^(\d{4})$"), "year"),
]


def parse_period(label: str) -> Period:
    """"2024-03", "2024-Q1", "2024-H2", "2024" → the period; anything else names the field in the error."""
    text = (label or "").strip()
    for pattern, kind in _LABELS:
        match = pattern.match(text)
        if not match:
            continue
        year = int(match.group(1))
        if kind == "month":
            month = int(match.group(2))
            if not 1 <= month <= 12:
                break
        elif kind == "quarter":
            month = (int(match.group(2)) - 1) * 3 + 1
        elif kind == "half_year":
            month = (int(match.group(2)) - 1) * 6 + 1
        else:
            month = 1
        return period_containing(date(year, month, 1), kind)
    raise PolicyError("period", f"{label!r} is not a period: write 2024-03 (month), 2024-Q1 (quarter), "
                                f"2024-H1 (half-year) or 2024 (year)")


# ---------------------------------------------------------------- periodic reports


@dataclass(frozen=True)
class Report:
    """One periodic report of a project: what it covers and when its flow's timers fire."""
    kind: str
    period: str  # label of the covered period (the summary's month, the statistics' quarter …)
    covers_from: datetime  # inclusive, aware
    covers_until: datetime  # exclusive, aware
    opens_at: datetime  # the timer start event: compiling begins
    due_at: datetime  # compiled by (24:00 of the due day, 23:59:59.999999 local)
    review_due: datetime | None = None  # the project manager's review (monthly summary)
    submit_at: datetime | None = None  # to the VP on the approval day (monthly summary)

    @property
    def process(self) -> str:
        return REPORT_PROCESSES[self.kind]

    def start_data(self) -> dict:
        out = {"report_kind": self.kind, "period": self.period, "covers_from": self.covers_from.isoformat(),
               "covers_until": self.covers_until.isoformat(), "opens_at": self.opens_at.isoformat(),
               "due_at": self.due_at.isoformat()}
        if self.review_due:
            out["review_due"] = self.review_due.isoformat()
        if self.submit_at:
            out["submit_at"] = self.submit_at.isoformat()
        return out


def report_kinds(params: dict) -> list[tuple[str, str]]:
    """(report kind, period kind) pairs the profile asks for."""
    stats = params.get("statistics") or {}
    due = stats.get("report_due") or {}
    if stats.get("approval_day") and due:
        return [("monthly_summary", "month")]
    if due.get("months_after"):
        return [("rate_report", "month")]
    return [("statistics", kind) for kind in stats.get("periods") or ["month"]]


def _summary_cutoff_day(params: dict) -> int:
    due = params["statistics"]["report_due"]
    return due["day"] - 1 if due.get("strict") else due["day"]


def _summary_for_month(params: dict, first: date) -> Report:
    """The monthly summary of the month starting ``first`` (cut-off reading of V1-3, see module doc)."""
    zone = _zone(params)
    day = _summary_cutoff_day(params)
    cutoff = start_of_day(day_of_month_deadline(start_of_day(first, zone), day, 0, zone).date(), zone)
    previous = start_of_day(day_of_month_deadline(start_of_day(add_months(first, -1), zone), day, 0, zone).date(),
                            zone)
    approval = params["statistics"]["approval_day"]
    submit = start_of_day(day_of_month_deadline(cutoff, approval, 0, zone).date(), zone)
    return Report("monthly_summary", f"{first:%Y-%m}", previous, cutoff, cutoff, end_of_day(cutoff.date(), zone),
                  review_due=submit - timedelta(microseconds=1), submit_at=submit)


def _calendar_report(params: dict, kind: str, period: Period) -> Report:
    zone = _zone(params)
    start, end = period.bounds(zone)
    if kind == "rate_report":
        rule = params["statistics"]["report_due"]
        due = day_of_month_deadline(end, rule["day"], 0, zone, strict=rule.get("strict", False))
    else:
        due = end_of_day(period.last + timedelta(days=STATISTICS_DUE_DAYS), zone)
    return Report(kind, period.label, start, end, end, due)


def reports_for(params: dict, at: datetime) -> list[Report]:
    """The reports whose flow should exist at ``at``: for each kind the period running now (its flow waits
    on its timer start event) and the one before it while that one is not yet due (a worker that was down
    when a period began still starts it)."""
    require_aware(at, "at")
    zone = _zone(params)
    local = at.astimezone(zone)
    out = []
    for kind, period_kind in report_kinds(params):
        if kind == "monthly_summary":
            first = date(local.year, local.month, 1)
            current = _summary_for_month(params, first)
            if at >= current.covers_until:
                current = _summary_for_month(params, add_months(first, 1))
            candidates = [current, _summary_for_month(params, add_months(date.fromisoformat(current.period + "-01"),
                                                                         -1))]
        else:
            period = period_containing(at, period_kind, zone)
            candidates = [_calendar_report(params, kind, period), _calendar_report(params, kind, period.previous())]
        out.append(candidates[0])
        if at <= candidates[1].due_at:
            out.append(candidates[1])
    return out


def report_for(params: dict, kind: str, period_label: str) -> Report:
    """The report of one named period (for a report started by hand, or a test)."""
    period = parse_period(period_label)
    if kind == "monthly_summary":
        if period.kind != "month":
            raise PolicyError("period", "the monthly summary covers a month, e.g. 2024-03")
        return _summary_for_month(params, period.first)
    if kind not in ("rate_report", "statistics"):
        raise PolicyError("kind", f"unknown report {kind!r} (monthly_summary, rate_report, statistics)")
    return _calendar_report(params, kind, period)


# ---------------------------------------------------------------- KPI-09 annual grade

GRADES = [(9.0, "excellent", "优秀"), (7.0, "good", "良好"), (6.0, "pass", "及格")]


def annual_grade(average: float | None) -> tuple[str, str] | None:
    """KPI-09: ≥9 excellent; ≥7 and <9 good; ≥6 and <7 pass; <6 fail (thresholds inclusive)."""
    if average is None:
        return None
    for floor, code, zh in GRADES:
        if average >= floor - 1e-9:
            return code, zh
    return "fail", "不及格"
