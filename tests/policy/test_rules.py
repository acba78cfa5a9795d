"""Pure policy module: profile data, Civil Code date arithmetic (§0.4), SMP-02, SLAs (§5.2)."""
from __future__ import annotations

import copy
from datetime import date, datetime

import pytest

from workflows.policy import (SCRIPT_FUNCTIONS, PolicyError, WorkingCalendar, add_months, add_working_days,
                              complaint_deadlines, day_of_month_deadline, draw_sample, explain, load_profiles,
                              sample_size, smp02_sample_size, validate_params, visit_window)
from workflows.policy.calendar import end_of_day

PROFILES = load_profiles()
REQUIRED = ["P000-1", "P000-2", "P000-3", "P000-4", "P000-6", "P000-7", "P001-H", "P001-C", "P002", "P003",
            "P004-1", "P004-6", "P001-S"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_every_required_profile_ships_and_validates():
    """§0.3: every profile is seed data and passes the JSON Schema."""
    assert set(REQUIRED) <= set(PROFILES)
    for params in PROFILES.values():
        validate_params(params)


def test_invalid_params_name_the_field():
    params = copy.deepcopy(PROFILES["P000-2"])
    params["categories"]["repair"]["required_rate"] = 1.5
    with pytest.raises(PolicyError) as err:
        validate_params(params)
    assert err.value.field == "categories.repair.required_rate"
    params = copy.deepcopy(PROFILES["P000-2"])
    params["categories"]["repair"]["window"]["end"]["unit"] = "fortnight"
    with pytest.raises(PolicyError) as err:
        validate_params(params)
    assert err.value.field.startswith("categories.repair.window")


def test_month_clamps_to_month_end_civil_code_art_202():
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2024, 12, 31), 2) == date(2025, 2, 28)


def test_p000_2_repair_window_one_to_two_months():
    """P000-2 repair [T+1M, T+2M] from 2024-01-31T10:00+08:00: opens 02-29, due 24:00 of 03-31."""
    opens, due = visit_window(PROFILES["P000-2"], "repair", at("2024-01-31T10:00:00+08:00"))
    assert opens.isoformat() == "2024-02-29T00:00:00+08:00"
    assert due.isoformat() == "2024-03-31T23:59:59.999999+08:00"


def test_within_three_days_excludes_start_day_amb_39():
    """'Within 3 days' = (T, T+3]: a complaint closed 23:30 on the 1st is due by 24:00 on the 4th."""
    opens, due = visit_window(PROFILES["P000-1"], "complaint", at("2024-03-01T23:30:00+08:00"))
    assert opens == at("2024-03-01T23:30:00+08:00")
    assert due == end_of_day(date(2024, 3, 4), due.tzinfo)


def test_day_boundary_uses_company_time_zone():
    """16:30 UTC on 03-01 is already 00:30 on 03-02 in Asia/Shanghai."""
    _, due = visit_window(PROFILES["P000-1"], "complaint", at("2024-03-01T16:30:00+00:00"))
    assert due.isoformat() == "2024-03-05T23:59:59.999999+08:00"


def test_ten_working_days_across_spring_festival_2024_with_makeup_sundays():
    """AMB-20: 2024-02-04 and 2024-02-18 (Sundays) are make-up working days; 02-10…02-17 are off."""
    cal = WorkingCalendar()
    assert cal.is_working_day(date(2024, 2, 4)) and cal.is_working_day(date(2024, 2, 18))
    assert not cal.is_working_day(date(2024, 2, 12))
    # Fri 02-02 +10 wd: 02-04,05,06,07,08,09,18,19,20,21
    assert cal.add_working_days(date(2024, 2, 2), 10) == date(2024, 2, 21)
    _, due = visit_window(PROFILES["P003"], "repair", at("2024-02-02T10:00:00+08:00"))
    assert due.isoformat() == "2024-02-21T23:59:59.999999+08:00"
    assert add_working_days(at("2024-02-02T10:00:00+08:00"), 10) == due


def test_p001_s_ten_working_days_over_national_day():
    """P001-S 第七条(一): completed Fri 2024-09-27 → 09-29 (Sun, make-up) counts, 10-01…10-07 off."""
    _, due = visit_window(PROFILES["P001-S"], "other", at("2024-09-27T18:00:00+08:00"))
    # 09-29, 09-30, 10-08, 10-09, 10-10, 10-11, 10-12 (Sat make-up), 10-14, 10-15, 10-16
    assert due.date() == date(2024, 10, 16)


def test_before_the_nth_inclusive_and_strict_amb_43():
    tz = at("2024-01-30T09:00:00+08:00")
    assert day_of_month_deadline(tz, 5, 1, tz.tzinfo).date() == date(2024, 2, 5)
    assert day_of_month_deadline(tz, 5, 1, tz.tzinfo, strict=True).date() == date(2024, 2, 4)
    opens, due = visit_window(PROFILES["P002"], "repair", tz)
    assert due.isoformat() == "2024-02-05T23:59:59.999999+08:00"


@pytest.mark.parametrize("n,k,home", [(0, 0, 0), (4, 4, 2), (19, 5, 3), (20, 6, 3), (37, 12, 6), (50, 15, 8),
                                       (51, 20, 10)])
def test_smp02_sample_sizes_with_amb_18_boundaries(n, k, home):
    assert smp02_sample_size(n) == (k, home)
    assert sample_size(PROFILES["P002"], "repair", n) == (k, home)


def test_smp02_strict_home_rule():
    assert smp02_sample_size(20, "strict") == (6, 4)
    assert smp02_sample_size(19, "strict") == (5, 3)


def test_fixed_rate_and_role_quotas():
    assert sample_size(PROFILES["P000-1"], "repair", 7) == (4, 0)      # ≥50%, rounded up (SMP-04)
    assert sample_size(PROFILES["P000-3"], "repair", 11) == (2, 1)     # 10%, HOME ≥20% (AMB-28)
    result = explain(PROFILES["P004-6"], "repair", at("2024-05-06T09:00:00+08:00"), count=10)
    assert result["role_quotas"] == {"Manager": 1, "Supervisor": 3, "DepartmentHead": 6}  # SMP-07


def test_p003_complaint_sla_reply_clock_hours_resolve_working_days():
    """§5.2 / AMB-33: MAJOR reply 2 clock hours even at night; resolve 3 working days."""
    p = PROFILES["P003"]
    d = complaint_deadlines(p, "MAJOR", at("2024-02-09T23:00:00+08:00"))
    assert d["reply_due"].isoformat() == "2024-02-10T01:00:00+08:00"
    assert d["resolve_due"].date() == date(2024, 2, 20)  # 02-18, 19, 20
    d = complaint_deadlines(p, "IMPORTANT", at("2024-02-02T10:00:00+08:00"))
    assert d["reply_due"].date() == date(2024, 2, 4) and d["resolve_due"].date() == date(2024, 2, 5)
    assert complaint_deadlines(p, "MINOR", at("2024-02-02T10:00:00+08:00"))["resolve_due"].date() == date(2024, 2, 4)


def test_second_visit_and_severity_visitor():
    r = explain(PROFILES["P000-3"], "repair", at("2024-01-31T10:00:00+08:00"))
    assert r["due"] == "2024-02-05T23:59:59.999999+08:00"
    assert r["second_visit"]["opens"] == "2024-02-29T00:00:00+08:00"
    assert r["second_visit"]["due"] == "2024-03-31T23:59:59.999999+08:00"
    assert explain(PROFILES["P000-2"], "complaint", at("2024-01-31T10:00:00+08:00"), severity="MAJOR")[
        "visitor_role"] == ["Manager"]


def test_errors_name_the_parameter():
    with pytest.raises(PolicyError) as err:
        explain(PROFILES["P001-C"], "complaint", at("2024-01-31T10:00:00+08:00"))
    assert err.value.field == "category"
    with pytest.raises(ValueError, match="trigger"):
        explain(PROFILES["P001-C"], "repair", datetime(2024, 1, 31, 10))
    with pytest.raises(PolicyError) as err:
        explain(PROFILES["P003"], "complaint", at("2024-01-31T10:00:00+08:00"), severity="HUGE")
    assert err.value.field == "severity"


def test_draw_sample_is_reproducible_smp_10():
    items = list(range(100))
    assert draw_sample(items, 5, seed="2024-01") == draw_sample(items, 5, seed="2024-01")
    assert len(set(draw_sample(items, 20, seed=1))) == 20
    assert draw_sample(items[:3], 5, seed=1).__len__() == 3


def test_script_functions_merged_into_engine_defaults():
    from workflows.engine import default_script_functions
    funcs = default_script_functions()
    for name in ("visit_window", "add_working_days", "complaint_deadlines", "sample_size"):
        assert funcs[name] is SCRIPT_FUNCTIONS[name]


def test_p004_6_subtype_windows_safety_two_days_leak_three():
    """篇六 (b)二: repairs within 1 week; safety facilities within 2 days, water leaks within 3 days."""
    t = at("2024-05-06T09:00:00+08:00")
    p = PROFILES["P004-6"]
    assert visit_window(p, "repair", t)[1].date() == date(2024, 5, 13)
    assert visit_window(p, "repair", t, subtype="safety")[1].date() == date(2024, 5, 8)
    assert visit_window(p, "repair", t, subtype="leak")[1].date() == date(2024, 5, 9)


def test_optional_profiles_of_section_0_3_ship_too():
    assert {"P001-F", "P001-M", "P001-P", "P001-R", "P001-Q", "P001-G", "P004-2", "P004-4", "P004-5"} <= set(PROFILES)
    assert PROFILES["P001-Q"]["customer_scoring"] is False  # AMB-15: gas customers are never asked to score


def test_p001_m_securities_visits_by_phone_or_face_to_face():
    """§0.3 P001-M [001-M 三.4]: phone or face-to-face visits by the customer's choice; no window in the seed
    (the 1-week default of other services, marked defaulted)."""
    p = PROFILES["P001-M"]
    result = explain(p, "other", at("2024-01-31T10:00:00+08:00"))
    assert result["allowed_methods"] == ["PHONE", "HOME"] and result["required_rate"] == 1.0
    assert result["due"] == "2024-02-07T23:59:59.999999+08:00" and "window" in result["defaulted"]
    assert explain(p, "complaint", at("2024-01-31T10:00:00+08:00"))["due"] == "2024-02-03T23:59:59.999999+08:00"
