from __future__ import annotations

from app.extensions import db
from app.services.engine import get_engine

PLAN = {"visitor": "agent", "method": "HOME", "window_days": 5, "content": "维修质量 repair quality"}
VISIT = {"visited_at": "2026-03-05T10:00:00+08:00", "method": "HOME", "satisfied": True, "customer_signed": True,
         "visitor_signed": True, "summary": "业主满意 satisfied"}


def start(client, headers, **body) -> dict:
    r = client.post("/api/v1/visits/", json={"household": "1栋-101", "project": "demo", **body}, headers=headers)
    assert r.status_code == 201, r.json
    return r.json["result"]


def tasks(client, headers, instance_id: int) -> dict[str, dict]:
    r = client.get(f"/api/v1/instances/{instance_id}", headers=headers)
    assert r.status_code == 200, r.json
    return {t["bpmn_id"]: t for t in r.json["result"]["tasks"]}


def complete(client, headers, task: dict, data: dict, status: int = 200):
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}, headers=headers)
    assert r.status_code == status, r.json
    return r.json


def visit(client, headers, visit_id: int) -> dict:
    r = client.get(f"/api/v1/visits/{visit_id}", headers=headers)
    assert r.status_code == 200, r.json
    return r.json["result"]


def fire_timers() -> int:
    fired = get_engine().fire_due_timers()
    db.session.expire_all()
    return fired
