"""repair_followup: the monthly sample (SMP-01/02) and rework within 24 h (RPR-02/03)."""
from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.extensions import db
from app.models.visit import RepairSample

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
    v = client.get("/api/v1/visits/?process=repair_followup", headers=sup).json["result"][0]
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
    from app.services.visits import draw_due_repair_samples

    key = project("p2w", "P002")
    year, month = _a_month_ahead()
    flows.set(datetime(year, month, 29, 9, tzinfo=CHINA))
    this_month = [flows.now() - timedelta(days=d) for d in range(1, 8)]  # 7 orders → SMP-02: 5 visits
    numbers = _work_orders(key, this_month + [datetime(year, month, 1, tzinfo=CHINA) - timedelta(days=2)])
    assert draw_due_repair_samples() == []  # the 29th: not yet
    flows.advance(days=1)
    [row] = draw_due_repair_samples()
    assert (row.project_key, row.month, len(row.sample), len(row.home)) == (key, f"{year}-{month:02d}", 5, 3)
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
    from app.services.visits import draw_due_repair_samples

    key = project("p2f", "P002")
    year = _a_month_ahead()[0] + 1  # a February after the profile versions took effect
    last_day = 29 if calendar.isleap(year) else 28
    flows.set(datetime(year, 2, last_day, 8, tzinfo=CHINA))
    _work_orders(key, [flows.now() - timedelta(days=1)])
    flows.advance(days=-1)
    assert draw_due_repair_samples() == []
    flows.advance(days=1)
    [row] = draw_due_repair_samples()
    assert row.month == f"{year}-02" and len(row.sample) == 1


def test_smp01_flask_huifang_worker_draws_due_samples(flows, app, project):
    key = project("p2c", "P002")
    year, month = _a_month_ahead()
    flows.set(datetime(year, month, 30 if month != 2 else 28, 9, tzinfo=CHINA))
    _work_orders(key, [flows.now() - timedelta(hours=5)])
    result = app.test_cli_runner().invoke(args=["huifang", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert f"drew the repair sample of {key} {year}-{month:02d}: 1 visit(s)" in result.output
    assert db.session.scalar(select(RepairSample.id).where(RepairSample.project_key == key)) is not None
