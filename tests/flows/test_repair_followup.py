"""repair_followup: the monthly sample (SMP-01/02) and rework within 24 h (RPR-02/03)."""
from __future__ import annotations

from datetime import datetime, timedelta

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
