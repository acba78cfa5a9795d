"""Issue 3 "done means": each flow through the REST API from intake to archive, on a moving clock.

Complaint: INTAKE → complaint_case (§5.2) → the 100% complaint visit (AMB-44 joint) → unqualified → complaint
handling as a call activity (FLOW-10) → re-visit → archive. Repair: 派工单 import → the worker's SMP-01/02
sample on the 30th → visit → archive. §2: decoration, emergency patient and event visits get their windows.
"""
from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.extensions import db
from app.models.intake import ServiceEvent
from app.services.engine import get_engine

from .helpers import PLAN, VISIT, complete, tasks, visit

CHINA = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")


def _a_month_ahead() -> tuple[int, int]:
    """The seeded policy versions are in effect from when init ran: test in a month after today."""
    ahead = datetime.now(CHINA) + timedelta(days=40)
    return ahead.year, ahead.month


def _household(client, headers, key, building="1", room="101"):
    r = client.post("/api/v1/households/", json={"project": key, "building": building, "room": room},
                    headers=headers)
    assert r.status_code == 201, r.json


def _event(client, headers, key, **body) -> dict:
    r = client.post("/api/v1/service-events/", headers=headers,
                    json={"project": key, "building": "1", "room": "101", "content": "夜间施工噪音 night noise", **body})
    assert r.status_code == 201, r.json
    return r.json["result"]


def _work_the_case(client, auth, instance_id):
    sup, dept = auth("supervisor"), auth("departmenthead")
    complete(client, sup, tasks(client, sup, instance_id)["reply"], {"replied_at": "2026-03-05T11:00:00+08:00",
                                                                      "reply": "已联系业主"})
    complete(client, dept, tasks(client, dept, instance_id)["resolve"], {"resolution": "已约束施工时间"})
    complete(client, sup, tasks(client, sup, instance_id)["close"], {"closing_note": "结案"})


def _local(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(CHINA)


def test_a_general_complaint_from_intake_to_archive_through_an_unqualified_review(flows, client, auth, project):
    admin, sup, agent, dept, manager = (auth(u) for u in ("admin", "supervisor", "agent", "departmenthead",
                                                          "manager"))
    key = project("e2c", "P000-2")
    _household(client, admin, key)
    event = _event(client, admin, key, category="complaint", severity="MINOR", subject="噪音")
    [case] = client.get("/api/v1/visits/", headers=sup).json["result"]
    assert case["process"] == "complaint_case"
    flows.advance(hours=5)
    _work_the_case(client, auth, case["instance_id"])
    closed_at = flows.now()
    # closing the case closes the complaint and starts its 100% visit, due within 3 days (CAT-CMP-01/02)
    assert db.session.get(ServiceEvent, event["id"]).status == "closed"
    [v] = client.get("/api/v1/visits/?process=followup_visit", headers=sup).json["result"]
    assert (v["category"], v["severity"], v["service_event_id"]) == ("complaint", "MINOR", event["id"])
    assert _local(v["due_at"]).date() == (closed_at.astimezone(CHINA) + timedelta(days=3)).date()

    # AMB-44: a general complaint is visited by the complained department's head and the visitor together
    plan = {**PLAN, "co_visitor": "departmenthead", "window_days": 3}
    complete(client, sup, tasks(client, sup, v["instance_id"])["plan"], plan)
    complete(client, agent, tasks(client, agent, v["instance_id"])["visit"], {**VISIT, "satisfied": False})
    complete(client, dept, tasks(client, dept, v["instance_id"])["co_sign"], {"co_visitor_signed": True})
    complete(client, sup, tasks(client, sup, v["instance_id"])["review"], {"qualified": False, "comment": "仍有噪音"})
    # FLOW-10: the unqualified result is handled as a complaint inside this visit, then the manager's opinion
    _work_the_case(client, auth, v["instance_id"])
    complete(client, manager, tasks(client, manager, v["instance_id"])["manager_opinion"], {"opinion": "再次回访"})
    flows.advance(days=1)
    complete(client, agent, tasks(client, agent, v["instance_id"])["visit"], VISIT)
    complete(client, dept, tasks(client, dept, v["instance_id"])["co_sign"], {"co_visitor_signed": True})
    complete(client, sup, tasks(client, sup, v["instance_id"])["review"], {"qualified": True, "comment": "满意"})
    done = visit(client, sup, v["id"])
    assert (done["status"], done["result"], done["revisits"]) == ("archived", "satisfied", 1)
    assert [f["status"] for f in done["forms"]] == ["signed_out"] and done["serial"]
    # one complaint visit only: the case handled inside the visit starts no visit of its own
    assert client.get("/api/v1/visits/?process=followup_visit", headers=sup).json["count"] == 1
    # the matter is over: the same complaint again is a new case, its 2nd (FLOW-17), not a duplicate (AMB-34)
    again = _event(client, admin, key, category="complaint", severity="MINOR", subject="噪音")
    assert (again["status"], again["duplicate_of"], again["extra"]["repeat_count"]) == ("received", None, 2)
    assert client.get("/api/v1/visits/?process=complaint_case", headers=sup).json["count"] == 2


def test_a_major_complaint_is_visited_by_the_person_its_profile_names(flows, client, auth, project):
    """§1.2 P003: a MAJOR complaint's visit is made by the project head (Manager), by phone or at home."""
    admin, sup, manager = auth("admin"), auth("supervisor"), auth("manager")
    key = project("e2m", "P003")
    _household(client, admin, key)
    _event(client, admin, key, category="complaint", severity="MAJOR", content="电梯困人 trapped in the lift")
    [case] = client.get("/api/v1/visits/", headers=sup).json["result"]
    _work_the_case(client, auth, case["instance_id"])
    [v] = client.get("/api/v1/visits/?process=followup_visit", headers=sup).json["result"]
    plan = tasks(client, sup, v["instance_id"])["plan"]
    body = complete(client, sup, plan, PLAN, status=422)
    assert [p["field"] for p in body["problems"]] == ["visitor"] and "Manager" in body["problems"][0]["message"]
    complete(client, sup, plan, {**PLAN, "visitor": "manager", "method": "PHONE"})
    complete(client, manager, tasks(client, manager, v["instance_id"])["visit"], {**VISIT, "method": "PHONE"})
    complete(client, sup, tasks(client, sup, v["instance_id"])["review"], {"qualified": True, "comment": "好"})
    assert visit(client, sup, v["id"])["status"] == "archived"


def _csv(rows) -> bytes:
    return ("\n".join(",".join(row) for row in rows) + "\n").encode("utf-8")


def test_a_p002_month_of_37_imported_repairs_is_sampled_by_the_worker_and_visited(flows, app, client, auth, project):
    """SMP-01/02: 37 派工单 imported during the month; on the 30th the worker samples 12 (30%, rounded up),
    at least 6 of them (more than half) for HOME visits, due before the 5th of the next month."""
    admin, sup, agent = auth("admin"), auth("supervisor"), auth("agent")
    key = project("e2r", "P002")
    year, month = _a_month_ahead()
    month = month if month != 2 else 3  # the 30th exists
    flows.set(datetime(year, month, 29, 18, tzinfo=CHINA))
    for i in range(37):
        _household(client, admin, key, building=str(i % 4 + 1), room=str(300 + i))
    rows = [["工单号", "类别", "楼栋", "房号", "完成时间", "维修人员", "内容"]] + [
        [f"R{i:03d}", "维修", str(i % 4 + 1), str(300 + i), f"{year}-{month:02d}-{i % 28 + 1:02d} 10:00", "老王", "换灯泡"]
        for i in range(37)]
    r = client.post(f"/api/v1/work-orders/import?project={key}", headers=admin,
                    data={"file": (io.BytesIO(_csv(rows)), "orders.csv")}, content_type="multipart/form-data")
    assert r.status_code == 200, r.json
    assert client.get("/api/v1/visits/", headers=sup).json["count"] == 0  # repairs wait for the sample
    result = app.test_cli_runner().invoke(args=["huifang", "worker", "--once"])
    assert "drew the repair sample" not in result.output  # the 29th
    flows.advance(days=1)
    result = app.test_cli_runner().invoke(args=["huifang", "worker", "--once"])
    assert f"drew the repair sample of {key} {year}-{month:02d}: 12 visit(s)" in result.output, result.output
    db.session.expire_all()
    visits = client.get("/api/v1/visits/?process=repair_followup&per_page=50", headers=sup).json["result"]
    assert len(visits) == 12
    data = [get_engine().workflow_data(v["instance_id"]) for v in visits]
    assert sum(d["required_method"] == "HOME" for d in data) >= 6
    next_month = (year + (month == 12), month % 12 + 1)
    assert {_local(v["due_at"]).date().isoformat() for v in visits} == {f"{next_month[0]}-{next_month[1]:02d}-05"}

    home = visits[[d["required_method"] for d in data].index("HOME")]
    task = tasks(client, agent, home["instance_id"])["visit"]
    assert client.post(f"/api/v1/tasks/{task['id']}/claim", headers=agent).status_code == 200
    complete(client, agent, task, {"visited_at": flows.now().isoformat(), "method": "HOME", "satisfied": True,
                                   "customer_signed": True, "summary": "维修及时 timely"})
    assert visit(client, sup, home["id"])["status"] == "archived"


def test_s2_decoration_emergency_and_event_visits_get_their_profiles_windows(flows, client, auth, project):
    """§2.5, §2.6, §2.9: P002 decoration HOME within 1 week; P000-3 emergency patient HOME within 1 week and
    community events by LETTER within 1 month; P000-4 events within 1 week."""
    admin, sup = auth("admin"), auth("supervisor")
    cases = [("e2d", "P002", "decoration", ["HOME"], 7), ("e2p", "P000-3", "emergency_patient", ["HOME"], 7),
             ("e2v", "P000-3", "publication_event", ["LETTER"], 31), ("e2w", "P000-4", "publication_event", None, 7)]
    completed = datetime(2026, 3, 31, 15, tzinfo=CHINA)
    for key, profile, category, methods, days in cases:
        project(key, profile)
        _household(client, admin, key)
        event = _event(client, admin, key, category=category, content="事件 event",
                       received_at=(completed - timedelta(hours=4)).isoformat())
        assert client.get(f"/api/v1/visits/?project={key}", headers=sup).json["count"] == 0
        r = client.post(f"/api/v1/service-events/{event['id']}/complete", headers=admin,
                        json={"completed_at": completed.isoformat()})
        assert r.status_code == 200, r.json
        [v] = client.get(f"/api/v1/visits/?project={key}", headers=sup).json["result"]
        assert (v["category"], v["process"]) == (category, "followup_visit")
        # "within 1 week / 1 month" = (T, T+n], to 24:00 of the last day (Civil Code, §0.4)
        due = {7: "2026-04-07", 31: "2026-04-30"}[days]
        assert _local(v["due_at"]).isoformat() == f"{due}T23:59:59.999999+08:00", (category, profile)
        if methods:
            assert get_engine().workflow_data(v["instance_id"])["allowed_methods"] == methods
