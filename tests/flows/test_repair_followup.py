"""repair_followup: the monthly sample (SMP-01/02) and rework within 24 h (RPR-02/03)."""
from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.extensions import db
from app.models.visit import RepairSample

from app.services.engine import get_engine

from .helpers import complete, tasks, visit


def _orders(n):
    return [{"id": f"WO-{i:03d}", "household": f"{i % 9 + 1}栋-{100 + i}"} for i in range(n)]


def test_smp02_a_p002_month_of_37_repairs_samples_12_with_6_home(flows, client, auth, project):
    sup = auth("supervisor")
    key = project("p2", "P002")
    body = {"project": key, "month": "2026-03", "seed": "2026-03-audit", "orders": _orders(37)}
    r = client.post("/api/v1/visits/repair-sample", json=body, headers=sup)
    assert r.status_code == 201, r.json
    result = r.json["result"]
    assert len(result["sample"]) == 12 and len(set(result["sample"])) == 12  # ceil(0.3 * 37)
    assert len(result["home"]) >= 6 and set(result["home"]) <= set(result["sample"])  # ceil(12 / 2)
    row = db.session.scalar(select(RepairSample).where(RepairSample.project_key == key))
    assert row.seed == "2026-03-audit" and len(row.population) == 37 and row.sample == result["sample"]
    r = client.get("/api/v1/visits/?process=repair_followup", headers=sup)
    assert r.json["count"] == 12
    # a month is sampled once: the audit trail cannot be redrawn
    assert client.post("/api/v1/visits/repair-sample", json=body, headers=sup).status_code == 409


def test_smp01_the_sample_is_reproducible_from_the_stored_seed(flows, client, auth, project):
    from workflows.policy import draw_sample

    sup = auth("supervisor")
    key = project("p2r", "P002")
    body = {"project": key, "month": "2026-04", "seed": "s-42", "orders": _orders(20)}
    result = client.post("/api/v1/visits/repair-sample", json=body, headers=sup).json["result"]
    assert draw_sample([o["id"] for o in _orders(20)], len(result["sample"]), "s-42") == result["sample"]


def test_rpr02_unsatisfied_repair_visit_is_reworked_within_24h_and_visited_again(flows, client, auth, project):
    sup, agent, dept = auth("supervisor"), auth("agent"), auth("departmenthead")
    key = project("p2w", "P002")
    body = {"project": key, "month": "2026-05", "seed": "x", "orders": _orders(3)}
    assert client.post("/api/v1/visits/repair-sample", json=body, headers=sup).status_code == 201
    [v] = [v for v in client.get("/api/v1/visits/?process=repair_followup", headers=sup).json["result"]
           if get_engine().workflow_data(v["instance_id"])["required_method"] == "PHONE"]  # 3 drawn, 2 for HOME
    record = {"visited_at": "2026-05-03T10:00:00+08:00", "method": "PHONE", "satisfied": False, "summary": "漏水 leak"}
    complete(client, agent, tasks(client, agent, v["instance_id"])["visit"], record)
    rework = tasks(client, dept, v["instance_id"])["rework"]
    assert datetime.fromisoformat(rework["due_at"]) == flows.now() + timedelta(hours=24)
    complete(client, dept, rework, {"reworked_at": "2026-05-04T09:00:00+08:00", "note": "已返修 fixed"})
    again = tasks(client, agent, v["instance_id"])["visit"]
    complete(client, agent, again, {**record, "method": "HOME", "satisfied": True, "customer_signed": True})
    done = visit(client, sup, v["id"])
    assert done["status"] == "archived" and done["result"] == "satisfied" and done["revisits"] == 1


CHINA = ZoneInfo("Asia/Shanghai")


def _a_month_ahead() -> tuple[int, int]:
    """A month after today's real date: the seeded policy versions are in effect from when init ran."""
    ahead = datetime.now(CHINA) + timedelta(days=40)
    return ahead.year, ahead.month


def _work_orders(project_key: str, completed: list[datetime]) -> list[str]:
    from app.models.intake import Household, Project, WorkOrder

    project = db.session.scalar(select(Project).where(Project.key == project_key))
    numbers = []
    for i, at in enumerate(completed):
        household = Household(project_id=project.id, building=f"{i % 5 + 1}栋", room=f"{100 + i}",
                              file_no=f"{project_key}-F{i:03d}")
        db.session.add(household)
        db.session.flush()
        numbers.append(f"{project_key}-WO-{i:03d}")
        db.session.add(WorkOrder(project_id=project.id, number=numbers[-1], service_type="repair",
                                 household_id=household.id, completed_at=at))
    db.session.commit()
    return numbers


def test_smp01_the_worker_draws_the_month_on_the_30th_once(flows, client, auth, project):
    """SMP-01: P002 samples the month's completed repair orders on the 30th; the visits are due before
    the 5th of the next month (inclusive, AMB default); drawing again the same month does nothing."""
    from app.models.intake import WorkOrder
    from app.services.flows.repair_sampling import draw_due_repair_samples

    key = project("p2w", "P002")
    year, month = _a_month_ahead()
    flows.set(datetime(year, month, 29, 9, tzinfo=CHINA))
    this_month = [flows.now() - timedelta(days=d) for d in range(1, 8)]  # 7 orders → SMP-02: 5 visits
    numbers = _work_orders(key, this_month + [datetime(year, month, 1, tzinfo=CHINA) - timedelta(days=2)])
    assert draw_due_repair_samples() == []  # the 29th: not yet
    flows.advance(days=1)
    [row] = draw_due_repair_samples()
    assert (row.project_key, row.period, len(row.sample), len(row.home)) == (key, f"{year}-{month:02d}", 5, 3)
    assert set(row.population) == set(numbers[:7])  # last month's order is not this month's
    assert draw_due_repair_samples() == []  # once per month, whatever the number of sweeps
    sampled = db.session.scalars(select(WorkOrder.number).where(WorkOrder.sampled.is_(True))).all()
    assert sorted(sampled) == sorted(row.sample)
    visits = client.get(f"/api/v1/visits/?process=repair_followup", headers=auth("supervisor")).json["result"]
    assert len(visits) == 5
    task = tasks(client, auth("agent"), visits[0]["instance_id"])["visit"]
    assert task["assignee"] is None and task["role"] == "Agent"  # waits for any visitor to claim it
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    assert datetime.fromisoformat(task["due_at"]) == datetime(next_year, next_month, 5, 23, 59, 59, 999999,
                                                              tzinfo=CHINA)


def test_smp01_february_draws_on_its_last_day(flows, project):
    from app.services.flows.repair_sampling import draw_due_repair_samples

    key = project("p2f", "P002")
    year = _a_month_ahead()[0] + 1  # a February after the profile versions took effect
    last_day = 29 if calendar.isleap(year) else 28
    flows.set(datetime(year, 2, last_day, 8, tzinfo=CHINA))
    _work_orders(key, [flows.now() - timedelta(days=1)])
    flows.advance(days=-1)
    assert draw_due_repair_samples() == []
    flows.advance(days=1)
    [row] = draw_due_repair_samples()
    assert row.period == f"{year}-02" and len(row.sample) == 1


def test_smp01_flask_huifang_worker_draws_due_samples(flows, app, project):
    key = project("p2c", "P002")
    year, month = _a_month_ahead()
    flows.set(datetime(year, month, 30 if month != 2 else 28, 9, tzinfo=CHINA))
    _work_orders(key, [flows.now() - timedelta(hours=5)])
    result = app.test_cli_runner().invoke(args=["huifang", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert f"drew the repair sample of {key} {year}-{month:02d}: 1 visit(s)" in result.output
    assert db.session.scalar(select(RepairSample.id).where(RepairSample.project_key == key)) is not None


def _repair_events(client, headers, key: str, completed: list[datetime], first_room: int = 0) -> list[int]:
    """Repairs recorded and completed through INTAKE's REST API (no work order): the daily draw's population."""
    ids = []
    for i, at in enumerate(completed, start=first_room):
        r = client.post("/api/v1/service-events/", headers=headers, json={
            "project": key, "building": f"{i % 3 + 1}", "room": f"{200 + i}", "category": "repair",
            "content": "卫生间漏水 bathroom leak", "received_at": (at - timedelta(hours=3)).isoformat()})
        assert r.status_code == 201, r.json
        ids.append(r.json["result"]["id"])
        r = client.post(f"/api/v1/service-events/{ids[-1]}/complete", json={"completed_at": at.isoformat()},
                        headers=headers)
        assert r.status_code == 200, r.json
    return ids


def _households(client, headers, key: str, n: int) -> None:
    for i in range(n):
        r = client.post("/api/v1/households/", json={"project": key, "building": f"{i % 3 + 1}",
                                                     "room": f"{200 + i}"}, headers=headers)
        assert r.status_code == 201, r.json


def test_smp04_a_fixed_rate_profile_draws_each_day_and_keeps_the_month_at_its_rate(flows, client, auth, project):
    """SMP-04 (P000-3: repair ≥10% within 5 days, HOME ≥20% of visits): once a day the worker draws the repairs
    completed before that day and not drawn yet, as many as keep the month at ≥10%; each visit is due 5 days
    after its repair. Late reports and days the worker missed are caught up."""
    from app.services.flows.repair_sampling import draw_due_repair_samples

    admin, sup = auth("admin"), auth("supervisor")
    key = project("p3d", "P000-3")
    year, month = _a_month_ahead()
    day1 = datetime(year, month, 3, 9, tzinfo=CHINA)
    flows.set(day1)
    _households(client, admin, key, 13)
    first = _repair_events(client, admin, key, [day1 + timedelta(hours=h) for h in range(0, 8, 2)])  # 4 repairs
    assert draw_due_repair_samples() == []  # completed today: tomorrow's draw
    flows.advance(days=1)
    [row] = draw_due_repair_samples()
    assert row.period == f"{year}-{month:02d}-04" and len(row.population) == 4
    assert len(row.sample) == 1 and len(row.home) == 1  # ceil(10% × 4) = 1; ceil(20% × 1) = 1 HOME
    assert set(row.population) == {f"E{i}" for i in first}
    assert draw_due_repair_samples() == []  # once per day, whatever the number of sweeps
    [v] = client.get("/api/v1/visits/?process=repair_followup", headers=sup).json["result"]
    completed_at = day1 + timedelta(hours=2 * first.index(int(row.sample[0][1:])))
    assert datetime.fromisoformat(v["due_at"]) == datetime(year, month, 8, 23, 59, 59, 999999, tzinfo=CHINA)
    assert datetime.fromisoformat(v["window_opens"]) == completed_at
    task = tasks(client, auth("agent"), v["instance_id"])["visit"]
    assert datetime.fromisoformat(task["due_at"]) == datetime.fromisoformat(v["due_at"])

    # the 4th: 6 repairs, and one of the 3rd reported late; the 5th: 2 more; the worker is down on the 5th
    late = _repair_events(client, admin, key, [day1 + timedelta(hours=10, minutes=30)], first_room=4)
    _repair_events(client, admin, key, [flows.now() + timedelta(minutes=10 * i) for i in range(6)], first_room=5)
    flows.advance(days=1)
    _repair_events(client, admin, key, [flows.now() + timedelta(minutes=10 * i) for i in range(2)], first_room=11)
    flows.advance(days=1)
    [row] = draw_due_repair_samples()
    # 13 repairs this month → ceil(1.3) = 2 visits, one of them drawn on the 4th
    assert (row.period[-2:], len(row.population), len(row.sample)) == ("06", 9, 1)
    assert f"E{late[0]}" in row.population
    assert client.get("/api/v1/visits/?process=repair_followup", headers=sup).json["count"] == 2


def test_smp04_every_repair_profile_visits_each_repair_within_its_window(flows, client, auth, project):
    """P001-C 三.1: every repair is visited within 3 days (rule 'all')."""
    from app.services.flows.repair_sampling import draw_due_repair_samples

    admin = auth("admin")
    key = project("p1c", "P001-C")
    year, month = _a_month_ahead()
    flows.set(datetime(year, month, 10, 15, tzinfo=CHINA))
    _households(client, admin, key, 3)
    _repair_events(client, admin, key, [flows.now() + timedelta(minutes=i) for i in range(3)])
    flows.advance(days=1)
    [row] = draw_due_repair_samples()
    assert len(row.sample) == 3 == len(row.population)
    visits = client.get("/api/v1/visits/?process=repair_followup", headers=auth("supervisor")).json["result"]
    assert {v["due_at"] for v in visits} == {datetime(year, month, 13, 23, 59, 59, 999999, tzinfo=CHINA)
                                             .astimezone(ZoneInfo("UTC")).isoformat()}


def test_smp02_a_repair_drawn_for_the_home_share_is_visited_at_home(flows, client, auth, project):
    sup, agent = auth("supervisor"), auth("agent")
    key = project("p2h", "P002")
    body = {"project": key, "month": "2026-06", "seed": "home", "orders": _orders(4)}
    result = client.post("/api/v1/visits/repair-sample", json=body, headers=sup).json["result"]
    assert len(result["home"]) == 2
    by_order = {get_engine().workflow_data(v["instance_id"])["repair_order"]: v
                for v in client.get("/api/v1/visits/?process=repair_followup", headers=sup).json["result"]}
    home_visit = by_order[result["home"][0]]
    task = tasks(client, agent, home_visit["instance_id"])["visit"]
    record = {"visited_at": "2026-06-30T10:00:00+08:00", "method": "PHONE", "satisfied": True, "summary": "满意"}
    body = complete(client, agent, task, record, status=422)
    assert [p["field"] for p in body["problems"]] == ["method"] and "HOME" in body["problems"][0]["message"]
    complete(client, agent, task, {**record, "method": "HOME", "customer_signed": True})
    phone_visit = by_order[next(o for o in result["sample"] if o not in result["home"])]
    complete(client, agent, tasks(client, agent, phone_visit["instance_id"])["visit"], record)  # PHONE is fine


def test_repair_sample_month_must_be_a_month(flows, client, auth, project):
    key = project("p2m", "P002")
    r = client.post("/api/v1/visits/repair-sample", headers=auth("supervisor"),
                    json={"project": key, "month": "2026-06-30", "seed": "x", "orders": _orders(2)})
    assert r.status_code == 422 and [p["field"] for p in r.json["problems"]] == ["month"]
