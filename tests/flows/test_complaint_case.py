"""complaint_case: §5.2 SLAs as timers that escalate (CMP-01); closing triggers the complaint visit."""
from __future__ import annotations

from datetime import datetime, timedelta

from .helpers import complete, fire_timers, start, tasks, visit


def test_s52_major_complaint_that_misses_its_2_hour_reply_escalates(flows, client, auth, project):
    sup, manager = auth("supervisor"), auth("manager")
    key = project("p3", "P003")
    received = flows.now()
    case = start(client, sup, category="complaint", severity="MAJOR", project=key,
                 trigger=received.isoformat())
    open_ = tasks(client, sup, case["instance_id"])
    # the reply is due 2 clock hours after receipt (§5.2, POLICY's complaint_deadlines)
    assert datetime.fromisoformat(open_["reply"]["due_at"]) == received + timedelta(hours=2)
    flows.advance(hours=1, minutes=59)
    assert fire_timers() == 0
    flows.advance(minutes=2)
    assert fire_timers() == 1
    open_ = tasks(client, manager, case["instance_id"])
    # CMP-01: the breach is recorded and escalated, and the reply is still owed
    assert sorted(open_) == ["reply", "reply_escalation"] and open_["reply_escalation"]["role"] == "Manager"
    complete(client, manager, open_["reply_escalation"], {"opinion": "立即答复"})


def test_complaint_closed_triggers_the_complaint_visit_through_to_archive(flows, client, auth, project):
    sup, dept = auth("supervisor"), auth("departmenthead")
    key = project("p3b", "P003")
    case = start(client, sup, category="complaint", severity="IMPORTANT", project=key,
                 trigger=flows.now().isoformat())
    complete(client, sup, tasks(client, sup, case["instance_id"])["reply"],
             {"replied_at": "2026-03-02T10:00:00+08:00", "reply": "已受理 received"})
    resolve = tasks(client, dept, case["instance_id"])["resolve"]
    # CMP-01: an extension needs a reason
    body = complete(client, dept, resolve, {"resolution": "已修复", "extended_until": "2026-03-09T10:00:00+08:00"},
                    status=422)
    assert [p["field"] for p in body["problems"]] == ["extension_reason"]
    complete(client, dept, resolve, {"resolution": "已修复 fixed"})
    complete(client, sup, tasks(client, sup, case["instance_id"])["close"], {"closing_note": "结案 closed"})
    assert visit(client, sup, case["id"])["status"] == "archived"
    r = client.get("/api/v1/visits/?process=followup_visit&category=complaint", headers=sup)
    [complaint_visit] = r.json["result"]
    assert complaint_visit["severity"] == "IMPORTANT" and complaint_visit["due_at"]  # window from the profile
    assert list(tasks(client, sup, complaint_visit["instance_id"])) == ["plan"]
    # §1.2: the profile's visitor role and methods for a complaint visit travel with the flow
    from app.services.engine import get_engine
    data = get_engine().workflow_data(complaint_visit["instance_id"])
    assert data["visitor_role"] and "PHONE" in data["allowed_methods"] and data["policy"]["code"] == "P003"


def test_a_complaint_needs_a_severity(flows, client, auth):
    r = client.post("/api/v1/visits/", json={"category": "complaint", "household": "1栋-101"},
                    headers=auth("supervisor"))
    assert r.status_code == 422 and [p["field"] for p in r.json["problems"]] == ["severity"]
