"""KPIs on a crafted data set with known answers (SOP_RULES §6, §2, §5.2), incl. the §10 boundaries:
≥ rates inclusive (SMP-04/KPI-04/05, exactly 50% / 80% meets), a visit at the last microsecond of its due day
is on time (§0.4), the period edge in local time, duplicates (AMB-34) and merged visits not counted, KPI-09
grade thresholds inclusive, "below 1%" inclusive (以下)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.services.reporting import kpis
from app.services.reporting.kpis import measure_visits, period_bounds
from workflows.errors import InvalidInput
from workflows.policy.calendar import end_of_day

from .conftest import CST, local


def _march(data):
    """P000-1 project kp1 (repair ≥50%, complaint 100%) and P003 project k3 (repair HOME ≥1%)."""
    data.project("kp1", "P000-1", households=10)
    data.project("k3", "P003", households=3)
    # six repairs completed in March (one at the last instant of March 31, local), one just after, one duplicate
    for room, day in [(1, 2), (2, 3), (3, 4), (4, 5), (5, 6)]:
        data.event("kp1", "repair", local(2024, 3, day, 9), completed=local(2024, 3, day, 17), room=room)
    first = data.event("kp1", "repair", local(2024, 3, 31, 9), completed=end_of_day(local(2024, 3, 31).date(), CST),
                       room=6)
    data.event("kp1", "repair", local(2024, 3, 31, 10), room=6, duplicate_of=first)
    data.event("kp1", "repair", local(2024, 3, 31, 20), completed=local(2024, 4, 1, 0, 0), room=7)
    # repair visits: r1 HOME on time, r2 at the last microsecond of its due day (on time), r3 never visited and
    # overdue (late), r4 still open (pending), r5 visited after its due day (late), r6 merged away (not counted)
    due = lambda d: end_of_day(local(2024, 3, d).date(), CST)  # noqa: E731
    ids = {
        "r1": data.visit("kp1", "repair", local(2024, 3, 2, 17), process="repair_followup", due=due(7),
                         visited=local(2024, 3, 5, 10), method="HOME", satisfied=True, visitor="agent", team="eng"),
        "r2": data.visit("kp1", "repair", local(2024, 3, 3, 17), process="repair_followup", due=due(8),
                         visited=due(8), method="PHONE", satisfied=False, visitor="agent2", team="eng"),
        "r3": data.visit("kp1", "repair", local(2024, 3, 4, 17), process="repair_followup", due=due(9),
                         status="overdue", visitor="agent", team="eng"),
        "r4": data.visit("kp1", "repair", local(2024, 3, 20, 17), process="repair_followup",
                         due=local(2099, 6, 1), status="in_progress"),
        "r5": data.visit("kp1", "repair", local(2024, 3, 6, 17), process="repair_followup", due=due(11),
                         visited=local(2024, 3, 12, 0, 0), method="PHONE", satisfied=True, visitor="agent2"),
        "r6": data.visit("kp1", "repair", local(2024, 3, 6, 17), process="repair_followup", status="cancelled"),
        "april": data.visit("kp1", "repair", local(2024, 4, 1, 0, 0), process="repair_followup",
                            visited=local(2024, 4, 1, 9), method="HOME"),
    }
    # complaints: two closed in March, one visited; the cases themselves are not visits
    c1 = data.event("kp1", "complaint", local(2024, 3, 1, 9), completed=local(2024, 3, 2, 9), room=1)
    data.event("kp1", "complaint", local(2024, 3, 8, 9), completed=local(2024, 3, 9, 9), room=2)
    data.visit("kp1", "complaint", local(2024, 3, 1, 9), process="complaint_case", event=c1)
    ids["c1"] = data.visit("kp1", "complaint", local(2024, 3, 2, 9), visited=local(2024, 3, 3, 9), method="HOME",
                           satisfied=True, qualified=False, event=c1, visitor="agent")
    # k3: one repair, visited by phone: rate 100% ≥ 30% but HOME share 0 < 1%
    data.event("k3", "repair", local(2024, 3, 10, 9), completed=local(2024, 3, 10, 12), room=1)
    data.visit("k3", "repair", local(2024, 3, 10, 12), process="repair_followup", visited=local(2024, 3, 11, 9),
               method="PHONE", satisfied=True, due=local(2024, 3, 25))
    return ids


def _row(rows, **match):
    found = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


def test_visit_rate_per_category_against_the_profile(stats):
    ids = _march(stats)
    _period, start, end = period_bounds("2024-03")
    rows = kpis.visit_rates(start, end)
    repair = _row(rows, project="kp1", category="repair")
    assert repair["eligible"] == 6  # the duplicate and April's repair are not this month's repairs
    assert (repair["due"], repair["visited"], repair["home"], repair["on_time"], repair["late"]) == (5, 3, 1, 2, 2)
    assert repair["rate"] == 0.5 and repair["required_rate"] == 0.5 and repair["rate_met"] is True  # ≥, exactly
    assert repair["on_time_rate"] == 0.5 and repair["home_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert repair["min_home_share"] is None and repair["home_met"] is None
    complaint = _row(rows, project="kp1", category="complaint")
    assert (complaint["eligible"], complaint["visited"], complaint["rate"]) == (2, 1, 0.5)
    assert complaint["required_rate"] == 1.0 and complaint["rate_met"] is False
    k3 = _row(rows, project="k3", category="repair")
    assert (k3["rate"], k3["rate_met"], k3["min_home_share"], k3["home_met"]) == (1.0, True, 0.01, False)
    # the next month holds the visit at local midnight of April 1 and the repair completed then
    april = _row(kpis.visit_rates(*period_bounds("2024-04")[1:]), project="kp1", category="repair")
    assert (april["eligible"], april["visited"]) == (1, 1)

    # the drill-down lists exactly the visits behind each number
    for measure, expected in [("on_time", {ids["r1"], ids["r2"]}), ("late", {ids["r3"], ids["r5"]}),
                              ("home", {ids["r1"]}), ("due", {ids["r1"], ids["r2"], ids["r3"], ids["r4"], ids["r5"]})]:
        visits, total = measure_visits(measure, start, end, project="kp1", category="repair")
        assert {v["id"] for v in visits} == expected and total == len(expected), measure


def test_slices_by_team_and_visitor(stats):
    ids = _march(stats)
    _period, start, end = period_bounds("2024-03")
    by_visitor = kpis.visit_measures(start, end, by="visitor", project="kp1", category=False)
    assert _row(by_visitor, slice="agent")["visited"] == 2  # r1 and the complaint visit
    assert _row(by_visitor, slice="agent")["late"] == 1  # r3
    assert _row(by_visitor, slice="agent2")["on_time"] == 1 and _row(by_visitor, slice="agent2")["late"] == 1
    by_team = kpis.visit_measures(start, end, by="team", project="kp1", category=False)
    assert _row(by_team, slice="eng")["due"] == 3
    # the dashboard's one-scan cube sums to exactly what a slice's own query counts
    cube = kpis.measure_cube(start, end)

    def ordered(rows):
        return sorted(rows, key=lambda r: (str(r["slice"]), str(r["category"])))

    for by in ("project", "team", "category"):
        assert ordered(kpis.rollup(cube, by)) == ordered(kpis.visit_measures(start, end, by=by, category=False)), by
    assert ordered(kpis.rollup(cube, "project", category=True)) == ordered(kpis.visit_measures(start, end))
    visits, total = measure_visits("late", start, end, project="kp1", by="visitor", value="agent2")
    assert [v["id"] for v in visits] == [ids["r5"]] and total == 1
    with pytest.raises(InvalidInput) as err:
        kpis.visit_measures(start, end, by="colour")
    assert err.value.problems[0].field == "by"
    with pytest.raises(InvalidInput) as err:
        measure_visits("nonsense", start, end)
    assert err.value.problems[0].field == "measure"
    with pytest.raises(InvalidInput) as err:
        period_bounds("2024-13")
    assert err.value.problems[0].field == "period"


def _technical(data):
    """P001-S project ks: business units A, B, C (operating) and M (contract signing)."""
    data.project("ks", "P001-S")
    when = local(2024, 3, 10, 9)
    visited = local(2024, 3, 12, 9)
    # A: 5 due, 4 actual (3 successful, 1 unreachable) → coverage 80% (valid, inclusive), success 75% (invalid)
    for score, market in [(9, 7), (8, 9), (10, 8)]:
        data.visit("ks", "other", when, visited=visited, team="A", market_team="M", score_operating=score,
                   score_market=market, satisfied=True)
    data.visit("ks", "other", when, visited=visited, success=False, team="A")
    data.visit("ks", "other", when, team="A", due=local(2024, 3, 20))
    # B: 5 due, 4 actual, all successful → 80% / 100%: valid
    for score in (6, 6, 7, 7):
        data.visit("ks", "other", when, visited=visited, team="B", score_operating=score, satisfied=True)
    data.visit("ks", "other", when, team="B", due=local(2024, 3, 20))
    # C: 4 due, 3 actual → coverage 75%: invalid
    for _ in range(3):
        data.visit("ks", "other", when, visited=visited, team="C", score_operating=5)
    data.visit("ks", "other", when, team="C", due=local(2024, 3, 20))


def test_coverage_success_and_validity_80_percent_inclusive(stats):
    _technical(stats)
    _period, start, end = period_bounds("2024-03")
    rows = kpis.coverage(start, end, by="team", project="ks")
    a, b, c = (_row(rows, slice=t) for t in "ABC")
    assert (a["due"], a["attempted"], a["visited"], a["coverage"], a["success_rate"]) == (5, 4, 3, 0.8, 0.75)
    assert a["valid"] is False and (a["coverage_target"], a["success_target"]) == (0.8, 0.8)
    assert (b["coverage"], b["success_rate"], b["valid"]) == (0.8, 1.0, True)
    assert (c["coverage"], c["valid"]) == (0.75, False)


def test_satisfaction_average_counts_both_teams_and_is_invalid_below_80(stats):
    _technical(stats)
    _period, start, end = period_bounds("2024-03")
    rows = {r["unit"]: r for r in kpis.satisfaction(start, end, project="ks")}
    assert (rows["A"]["total"], rows["A"]["scores"], rows["A"]["average"]) == (27, 3, 9.0)
    assert rows["A"]["success_rate"] == 0.75 and rows["A"]["valid"] is False
    assert (rows["B"]["average"], rows["B"]["valid"]) == (6.5, True)
    assert (rows["M"]["total"], rows["M"]["average"], rows["M"]["valid"]) == (24, 8.0, True)
    assert rows["C"]["average"] == 5.0


def test_annual_grade_is_the_average_of_monthly_averages_with_inclusive_thresholds(stats):
    stats.project("ks", "P001-S")

    def score(unit, month, *values):
        for value in values:
            stats.visit("ks", "other", local(2024, month, 10), visited=local(2024, month, 11), team=unit,
                        score_operating=value)

    score("X", 1, 9), score("X", 2, 9)  # exactly 9 → excellent
    score("Y", 3, 7)  # exactly 7 → good
    score("Z", 1, 6), score("Z", 12, 6)  # exactly 6 → pass
    score("W", 1, 5, 6), score("W", 2, 6, 7)  # 5.5 and 6.5 → 6.0 → pass; the visit average is also 6
    score("V", 1, 5, 6), score("V", 2, 6, 7, 6, 6)  # months 5.5 and 6.25 → 5.875 → fail (visit average 6.0)
    score("U", 1, 10, 10), score("U", 2, 7)  # months 10 and 7 → 8.5 → good (the visit average would be 9)
    stats.visit("ks", "other", local(2025, 1, 10), visited=local(2025, 1, 11), team="X", score_operating=1)
    grades = {r["unit"]: r for r in kpis.annual_grades(2024, project="ks")}
    assert {u: (r["average"], r["grade"]) for u, r in grades.items()} == {
        "X": (9.0, "excellent"), "Y": (7.0, "good"), "Z": (6.0, "pass"), "W": (6.0, "pass"),
        "V": (5.88, "fail"), "U": (8.5, "good")}
    assert grades["X"]["grade_zh"] == "优秀" and grades["V"]["grade_zh"] == "不及格" and grades["Z"]["months"] == 2


def test_complaint_rate_below_one_percent_is_inclusive(stats):
    stats.project("k46", "P004-6", households=100)
    first = stats.event("k46", "complaint", local(2024, 3, 3, 9), room=1, subject="噪音")
    stats.event("k46", "complaint", local(2024, 3, 3, 10), room=1, subject="噪音", duplicate_of=first)
    stats.event("k46", "complaint", local(2024, 4, 3, 9), room=2)
    stats.event("k46", "complaint", local(2024, 4, 30, 23, 59), room=3)
    march = _row(kpis.complaint_rates(*period_bounds("2024-03")[1:]), project="k46")
    assert (march["complaints"], march["households"], march["rate"], march["target"], march["met"]) == \
        (1, 100, 0.01, 0.01, True)
    april = _row(kpis.complaint_rates(*period_bounds("2024-04")[1:]), project="k46")
    assert (april["complaints"], april["rate"], april["met"]) == (2, 0.02, False)


def test_sla_compliance_per_severity(stats):
    stats.project("k3", "P003", households=3)
    at = local(2024, 3, 5, 10)
    # MAJOR 1: replied exactly at the deadline (on time), resolved a day late (breach)
    stats.visit("k3", "complaint", at, process="complaint_case", severity="MAJOR", reply_due=at + timedelta(hours=2),
                replied=at + timedelta(hours=2), due=local(2024, 3, 8, 23, 59), resolved=local(2024, 3, 9, 10))
    # MAJOR 2: never replied (breach), resolve deadline still ahead (not counted yet)
    stats.visit("k3", "complaint", at, process="complaint_case", severity="MAJOR", reply_due=at + timedelta(hours=2),
                due=local(2099, 6, 1), status="in_progress")
    # MINOR: both on time
    stats.visit("k3", "complaint", at, process="complaint_case", severity="MINOR", reply_due=local(2024, 3, 6, 23),
                replied=local(2024, 3, 6, 9), due=local(2024, 3, 6, 23), resolved=local(2024, 3, 6, 20))
    rows = {r["severity"]: r for r in kpis.sla_compliance(*period_bounds("2024-03")[1:], project="k3")}
    major, minor = rows["MAJOR"], rows["MINOR"]
    assert (major["cases"], major["reply_on_time"], major["reply_breached"], major["reply_compliance"]) == (2, 1, 1, 0.5)
    assert (major["resolve_on_time"], major["resolve_breached"], major["resolve_compliance"]) == (0, 1, 0.0)
    assert (minor["reply_compliance"], minor["resolve_compliance"]) == (1.0, 1.0)
    visits, total = measure_visits("reply_breached", *period_bounds("2024-03")[1:], project="k3", severity="MAJOR")
    assert total == 1 and visits[0]["replied_at"] is None


def test_monthly_series_buckets_in_local_time(stats):
    _march(stats)
    from workflows.policy.reporting import parse_period

    months = [parse_period("2024-02"), parse_period("2024-03"), parse_period("2024-04")]
    series = {r["period"]: r for r in kpis.monthly_series(months, project="kp1")}
    assert series["2024-03"]["due"] == 6 and series["2024-03"]["visited"] == 4  # 5 repairs + 1 complaint visit
    assert series["2024-04"]["due"] == 1 and series["2024-02"]["due"] == 0
    assert series["2024-03"]["complaints"] == 2
