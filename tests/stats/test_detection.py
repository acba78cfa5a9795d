"""Detection rules on a crafted data set (SOP_RULES §4.4, FLOW-17, RPR-07, AMB-05/06/34, 003-FC 3.6)."""
from __future__ import annotations

from app.services.reporting.detection import findings
from workflows.policy.reporting import parse_period

from .conftest import local

MARCH = parse_period("2024-03")


def _by(found, rule):
    return {(f["project"], f.get("household"), f.get("subject")): f for f in found if f["rule"] == rule}


def _complaint(data, project, room, subject, day, *, visit=True, satisfied_on=None, month=3, year=2024):
    event = data.event(project, "complaint", local(year, month, day, 9), completed=local(year, month, day, 18),
                       room=room, subject=subject)
    case = data.visit(project, "complaint", local(year, month, day, 9), process="complaint_case", event=event) \
        if visit else None
    if satisfied_on:
        data.visit(project, "complaint", local(year, month, day, 18), event=event, visited=satisfied_on,
                   satisfied=True, method="PHONE")
    return event, case


def test_same_matter_complained_consecutively(stats):
    stats.project("kp1", "P000-1", households=10)  # threshold 2
    stats.project("k3", "P003", households=5)  # threshold 3
    e1, case1 = _complaint(stats, "kp1", 1, "噪音", 2)
    e2, case2 = _complaint(stats, "kp1", 1, "噪音", 10)  # ≥2 inclusive (AMB-05): a finding
    # room 2: a satisfied visit between the two complaints restarts the count (AMB-06)
    _complaint(stats, "kp1", 2, "漏水", 3, satisfied_on=local(2024, 3, 5, 10))
    _complaint(stats, "kp1", 2, "漏水", 12)
    # room 3: the second report of the same open case is the same complaint (AMB-34)
    e3, _ = _complaint(stats, "kp1", 3, "电梯", 4)
    stats.event("kp1", "complaint", local(2024, 3, 4, 10), room=3, subject="电梯", duplicate_of=e3)
    # room 4: no subject tag, no matter key: never counted as the same matter
    _complaint(stats, "kp1", 4, None, 5), _complaint(stats, "kp1", 4, None, 6)
    # room 5: one in February, one in March: the run is counted within the period
    _complaint(stats, "kp1", 5, "绿化", 20, month=2), _complaint(stats, "kp1", 5, "绿化", 1)
    # room 6: an unsatisfied visit does not break the run; three complaints
    _complaint(stats, "kp1", 6, "停车", 2)
    ev, _ = _complaint(stats, "kp1", 6, "停车", 3)
    stats.visit("kp1", "complaint", local(2024, 3, 3, 18), event=ev, visited=local(2024, 3, 4, 9), satisfied=False)
    _complaint(stats, "kp1", 6, "停车", 8)
    # P003: two complaints are below its threshold 3; three are a finding
    for day in (2, 9):
        _complaint(stats, "k3", 1, "噪音", day)
    for day in (3, 10, 17):
        _complaint(stats, "k3", 2, "保洁", day)

    found = _by(findings(MARCH, rules=("repeat_complaint",)), "repeat_complaint")
    assert set(found) == {("kp1", "1-001", "噪音"), ("kp1", "1-006", "停车"), ("k3", "1-002", "保洁")}
    first = found[("kp1", "1-001", "噪音")]
    assert (first["count"], first["threshold"], first["event_ids"]) == (2, 2, [e1, e2])
    assert set(first["visit_ids"]) == {case1, case2} and first["period"] == "2024-03"
    assert found[("kp1", "1-006", "停车")]["count"] == 3
    assert found[("k3", "1-002", "保洁")]["threshold"] == 3
    # a project filter sees only its own
    assert {f["project"] for f in findings(MARCH, project="k3", rules=("repeat_complaint",))} == {"k3"}


def test_satisfied_visit_between_splits_runs_but_a_later_run_can_still_reach_the_threshold(stats):
    stats.project("kp1", "P000-1", households=2)
    _complaint(stats, "kp1", 1, "噪音", 2, satisfied_on=local(2024, 3, 4, 9))
    _complaint(stats, "kp1", 1, "噪音", 10)
    e3, _ = _complaint(stats, "kp1", 1, "噪音", 11)
    [finding] = findings(MARCH, rules=("repeat_complaint",))
    assert finding["count"] == 2 and e3 in finding["event_ids"] and len(finding["event_ids"]) == 2


def test_same_repair_three_times(stats):
    stats.project("kp1", "P000-1", households=10)
    events = [stats.event("kp1", "repair", local(2024, 3, d, 9), completed=local(2024, 3, d, 15), room=6,
                          subject="水管") for d in (1, 9, 30)]
    visit = stats.visit("kp1", "repair", local(2024, 3, 9, 15), process="repair_followup", event=events[1])
    for d in (2, 3):  # two only
        stats.event("kp1", "repair", local(2024, 3, d, 9), room=7, subject="水管")
    stats.event("kp1", "repair", local(2024, 4, 1, 9), room=7, subject="水管")  # April
    dup = stats.event("kp1", "repair", local(2024, 3, 4, 9), room=8, subject="门锁")
    for d in (4, 5):
        stats.event("kp1", "repair", local(2024, 3, d, 10), room=8, subject="门锁", duplicate_of=dup)
    found = _by(findings(MARCH, rules=("repeat_repair",)), "repeat_repair")
    assert list(found) == [("kp1", "1-006", "水管")]
    f = found[("kp1", "1-006", "水管")]
    assert (f["count"], f["threshold"], f["event_ids"], f["visit_ids"]) == (3, 3, events, [visit])


def test_unqualified_visits(stats):
    stats.project("kp1", "P000-1", households=2)
    bad = stats.visit("kp1", "repair", local(2024, 3, 5), visited=local(2024, 3, 6), qualified=False,
                      household="1-001")
    stats.visit("kp1", "repair", local(2024, 3, 5), visited=local(2024, 3, 6), qualified=True)
    stats.visit("kp1", "repair", local(2024, 4, 5), visited=local(2024, 4, 6), qualified=False)
    other = stats.visit("kp1", "help", local(2024, 3, 31, 23), visited=local(2024, 4, 1), qualified=False)
    [finding] = findings(MARCH, rules=("unqualified",))
    assert finding["visit_ids"] == [bad, other] and finding["key"] == "unqualified:kp1:2024-03"
    assert finding["count"] == 2


def test_rising_complaints_period_over_period_and_year_over_year(stats):
    stats.project("kp1", "P000-1", households=10)
    stats.project("k3", "P003", households=10)
    for day in (1, 2):
        _complaint(stats, "kp1", 1, None, day, month=2)
    cases = [_complaint(stats, "kp1", 2, None, day)[1] for day in (1, 2, 3)]
    _complaint(stats, "kp1", 3, None, 5, year=2023)
    # k3: as many as last month (not rising), more than a year earlier (rising)
    for day in (1, 2):
        _complaint(stats, "k3", 1, None, day, month=2)
        _complaint(stats, "k3", 1, None, day + 10)
    found = {(f["project"], f["basis"]): f for f in findings(MARCH, rules=("rising_complaints",))}
    assert set(found) == {("kp1", "previous"), ("kp1", "year_earlier"), ("k3", "year_earlier")}
    pop = found[("kp1", "previous")]
    assert (pop["before"], pop["count"], pop["compared_period"]) == (2, 3, "2024-02")
    assert sorted(pop["visit_ids"]) == sorted(cases)
    assert (found[("kp1", "year_earlier")]["before"], found[("kp1", "year_earlier")]["compared_period"]) == \
        (1, "2023-03")
    # a quarter compares with the quarter before
    q = [f for f in findings(parse_period("2024-Q1"), rules=("rising_complaints",)) if f["project"] == "kp1"]
    assert {f["basis"] for f in q} == {"previous", "year_earlier"} and q[0]["compared_period"] in ("2023-Q4", "2023-Q1")
