"""Visit windows, sampling and complaint deadlines computed from profile params (SOP_RULES §2–§5)."""
from __future__ import annotations

import math
import random
from datetime import datetime
from zoneinfo import ZoneInfo

from .calendar import (DEFAULT_CALENDAR, WorkingCalendar, day_of_month_deadline, end_of_day, period_bounds,
                       period_end, period_start, require_aware)
from .profiles import SEVERITIES, PolicyError


def _category(params: dict, category: str) -> dict:
    try:
        return params["categories"][category]
    except KeyError:
        defined = ", ".join(sorted(params.get("categories", {})))
        raise PolicyError("category", f"profile {params.get('code')} defines no category {category!r} "
                                      f"(defined: {defined})") from None


def _zone(params: dict) -> ZoneInfo:
    return ZoneInfo(params.get("timezone") or "Asia/Shanghai")


def window_bounds(window: dict, trigger: datetime, zone: ZoneInfo, cal: WorkingCalendar) -> tuple[datetime, datetime]:
    """§0.4: "within N" = (T, T+N]; "[T+a, T+b]" opens at 00:00 of day a; a deadline "before the
    Nth of next month" (AMB-43) is inclusive unless strict."""
    if "deadline" in window:
        d = window["deadline"]
        return trigger.astimezone(zone), day_of_month_deadline(trigger, d["day"], d["months_after"], zone,
                                                               strict=d.get("strict", False))
    start, end = window["start"], window["end"]
    return (period_start(trigger, start["n"], start["unit"], zone, cal),
            period_end(trigger, end["n"], end["unit"], zone, cal))


def visit_window(params: dict, category: str, trigger: datetime, calendar: WorkingCalendar | None = None,
                 subtype: str | None = None) -> tuple[datetime, datetime]:
    require_aware(trigger)
    cat = _category(params, category)
    window = cat["window"]
    if subtype and subtype in cat.get("subtype_windows", {}):  # P004-6: safety 2 d, leak 3 d
        window = cat["subtype_windows"][subtype]
    return window_bounds(window, trigger, _zone(params), calendar or DEFAULT_CALENDAR)


def smp02_sample_size(n: int, home_rule: str = "inclusive") -> tuple[int, int]:
    """SMP-02 with the AMB-18 boundaries: n<20 → min(5, n); 20≤n≤50 → ceil(0.3n); n>50 → 20.
    HOME ≥ ceil(k/2) (inclusive "半数以上"), or floor(k/2)+1 when strict."""
    if n < 0:
        raise PolicyError("count", "must not be negative")
    if n < 20:
        k = min(5, n)
    elif n <= 50:
        k = math.ceil(0.3 * n - 1e-9)
    else:
        k = 20
    home = k // 2 + 1 if home_rule == "strict" else math.ceil(k / 2)
    return k, min(home, k)


def sample_size(params: dict, category: str, n: int) -> tuple[int, int]:
    """(visits k, minimum HOME visits) for n eligible events of a period (SMP-02/SMP-04)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise PolicyError("count", "must be a non-negative integer")
    cat = _category(params, category)
    sampling = cat["sampling"]
    if sampling["rule"] == "smp02":
        return smp02_sample_size(n, sampling.get("home_rule", "inclusive"))
    rate = cat["required_rate"]
    if sampling["rule"] in ("all", "role_quotas") or rate is None and sampling["rule"] != "supervisor_sets":
        k = n
    elif rate is None:  # rate entered by the supervisor per period (§2.0): no floor here
        k = 0
    else:
        k = math.ceil(rate * n - 1e-9)  # "≥ x%" of eligible events: round up
    share = cat.get("min_home_share")
    if share is None:
        share = params.get("min_home_share")
    home = math.ceil((share or 0) * k - 1e-9)
    return k, home


def role_quotas(params: dict, category: str, k: int) -> dict[str, int] | None:
    """SMP-07 / AMB-32: each role personally does ≥ its share of the period's visits."""
    sampling = _category(params, category)["sampling"]
    if sampling["rule"] != "role_quotas":
        return None
    return {role: math.ceil(share * k - 1e-9) for role, share in sampling["quotas"].items()}


def draw_sample(items: list, k: int, seed) -> list:
    """SMP-10: a reproducible random sample; store the seed with the sampled list for audit."""
    items = list(items)
    k = max(0, min(k, len(items)))
    return random.Random(str(seed)).sample(items, k)


def complaint_deadlines(params: dict, severity: str, received: datetime,
                        calendar: WorkingCalendar | None = None) -> dict | None:
    """§5.2 (P003): reply and resolve deadlines for a complaint received at ``received``.
    MAJOR replies in 2 clock hours (AMB-33); working days use the PRC calendar."""
    require_aware(received, "received")
    if severity not in SEVERITIES:
        raise PolicyError("severity", f"must be one of {', '.join(SEVERITIES)}")
    sla = params.get("categories", {}).get("complaint", {}).get("sla")
    if not sla:
        return None
    zone, cal = _zone(params), calendar or DEFAULT_CALENDAR
    entry = sla[severity]
    return {"reply_due": period_end(received, entry["reply"]["n"], entry["reply"]["unit"], zone, cal),
            "resolve_due": period_end(received, entry["resolve"]["n"], entry["resolve"]["unit"], zone, cal)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def filing_due(params: dict, trigger: datetime) -> datetime:
    """When the records of the period containing ``trigger`` are filed: the period's last day ("month end",
    P000-1) or day N of the month after the period (P000-2: the 10th after the quarter); AMB-43 inclusive."""
    zone = _zone(params)
    rule = params["filing_deadline"]
    _first, last = period_bounds(trigger, rule["period"], zone)
    if rule["day"] == "end":
        return end_of_day(last, zone)
    return day_of_month_deadline(end_of_day(last, zone), rule["day"], 1, zone, rule.get("strict", False))


def explain(params: dict, category: str, trigger: datetime, *, severity: str | None = None,
            count: int | None = None, calendar: WorkingCalendar | None = None, subtype: str | None = None) -> dict:
    """Everything the profile says about one visit: the JSON of `flask policy explain`.
    ``subtype``: a category's sub-type with its own window (P004-6 repair: safety 2 days, leak 3 days)."""
    require_aware(trigger)
    cat = _category(params, category)
    if severity is not None and severity not in SEVERITIES:
        raise PolicyError("severity", f"must be one of {', '.join(SEVERITIES)}")
    subtypes = sorted(cat.get("subtype_windows") or {})
    if subtype is not None and subtype not in subtypes:
        known = f"one of {', '.join(subtypes)}" if subtypes else "none for this category in this profile"
        raise PolicyError("subtype", f"{subtype!r} is not a sub-type of {category} ({known})")
    cal = calendar or DEFAULT_CALENDAR
    zone = _zone(params)
    opens, due = visit_window(params, category, trigger, cal, subtype=subtype)
    window = cat["window"]
    unit = "deadline_day_of_month" if "deadline" in window else window["end"]["unit"]
    visitor = params["severity_roles"][severity] if category == "complaint" and severity else cat["visitor_role"]
    second = None
    if cat.get("second_visit"):
        s_open, s_due = window_bounds(cat["second_visit"]["window"], trigger, zone, cal)
        second = {"opens": _iso(s_open), "due": _iso(s_due), "condition": cat["second_visit"]["condition"]}
    result = {
        "profile": params["code"],
        "category": category,
        "trigger": trigger.astimezone(zone).isoformat(),
        "trigger_event": cat["trigger"],
        "opens": _iso(opens),
        "due": _iso(due),
        "unit": unit,
        "required_rate": cat["required_rate"],
        "sampling_rule": cat["sampling"]["rule"],
        "visitor_role": visitor,
        "allowed_methods": cat["allowed_methods"],
        "min_home_share": cat.get("min_home_share", params.get("min_home_share")),
        "record_form": cat["record_form"],
        "second_visit": second,
        "severity": severity,
        "subtype": subtype,
        "subtypes": subtypes,
        "source": cat.get("source", ""),
        "defaulted": cat.get("defaulted", []),
    }
    # §2.0 / FLOW-15/17: the period the visit is counted in, when its records are filed, and how often the
    # same matter may recur before it is a repeat
    result["statistics_periods"] = params["statistics"]["periods"]
    result["filing_due"] = _iso(filing_due(params, trigger))
    result["repeat_threshold"] = params["repeat_thresholds"].get(category)
    if count is not None:
        k, home = sample_size(params, category, count)
        result.update(count=count, sample_size=k, min_home=home)
        quotas = role_quotas(params, category, k)
        if quotas:
            result["role_quotas"] = quotas
    if category == "complaint" and cat.get("sla"):
        deadlines = complaint_deadlines(params, severity or "MINOR", trigger, cal)
        result["sla_severity"] = severity or "MINOR"  # no severity given: the mildest SLA, said explicitly
        result["reply_due"] = _iso(deadlines["reply_due"])
        result["resolve_due"] = _iso(deadlines["resolve_due"])
    return result
