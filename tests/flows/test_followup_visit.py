"""followup_visit end to end through the REST API (FLOW-01 … FLOW-11, AMB-21, AMB-27, 001-S)."""
from __future__ import annotations

from datetime import datetime

from app.services.engine import get_engine
from app.services.policy import effective_policy
from workflows.policy import complaint_deadlines

from .helpers import PLAN, VISIT, complete, fire_timers, start, tasks, visit


def _planned(client, auth, notified=None, **body):
    sup = auth("supervisor")
    v = start(client, sup, category="help", **body)
    assert v["status"] == "planned" and v["process"] == "followup_visit"
    complete(client, sup, tasks(client, sup, v["instance_id"])["plan"], PLAN)
    return v


def test_flow01_to_flow11_a_visit_from_plan_to_archive(flows, client, auth, notified):
    sup, agent = auth("supervisor"), auth("agent")
    v = _planned(client, auth)
    # FLOW-02: the visitor is notified; FLOW-03: a numbered 回访记录表 is signed out
    assert [n["recipients"] for n in notified] == [["agent"]]
    after_plan = visit(client, sup, v["id"])
    assert after_plan["status"] == "in_progress" and after_plan["visitor"] == "agent"
    year = flows.now().year
    assert after_plan["serial"] == f"demo-{year}-00001"
    assert [f["status"] for f in after_plan["forms"]] == ["signed_out"]
    assert after_plan["due_at"]

    open_ = tasks(client, agent, v["instance_id"])
    assert open_["visit"]["assignee"] == "agent"
    complete(client, agent, open_["visit"], VISIT)
    assert visit(client, sup, v["id"])["status"] == "review"
    complete(client, sup, tasks(client, sup, v["instance_id"])["review"], {"qualified": True, "comment": "合格"})
    done = visit(client, sup, v["id"])
    assert done["status"] == "archived" and done["result"] == "satisfied" and done["method"] == "HOME"
    r = client.get("/api/v1/visits/?status=archived", headers=sup)
    assert [x["id"] for x in r.json["result"]] == [v["id"]]


def test_amb27_home_visit_without_customer_signature_is_refused(flows, client, auth):
    sup, agent = auth("supervisor"), auth("agent")
    v = _planned(client, auth)
    task = tasks(client, agent, v["instance_id"])["visit"]
    body = complete(client, agent, task, {**VISIT, "customer_signed": False}, status=422)
    assert [p["field"] for p in body["problems"]] == ["customer_signed"]
    no_field = {k: val for k, val in VISIT.items() if k != "customer_signed"}
    body = complete(client, agent, task, no_field, status=422)
    assert [p["field"] for p in body["problems"]] == ["customer_signed"]
    # a phone visit needs no signature
    complete(client, agent, task, {**no_field, "method": "PHONE"})
    assert visit(client, sup, v["id"])["method"] == "PHONE"


def test_001s_unreachable_needs_a_reason_and_is_retried(flows, client, auth):
    sup, agent = auth("supervisor"), auth("agent")
    v = _planned(client, auth)
    task = tasks(client, agent, v["instance_id"])["visit"]
    body = complete(client, agent, task, {**VISIT, "outcome": "unreachable"}, status=422)
    assert [p["field"] for p in body["problems"]] == ["outcome_reason"]
    complete(client, agent, task, {**VISIT, "outcome": "unreachable", "outcome_reason": "无人接听 no answer"})
    again = tasks(client, agent, v["instance_id"])
    assert list(again) == ["visit"] and again["visit"]["id"] != task["id"]
    assert visit(client, sup, v["id"])["result"] == "unreachable"
    complete(client, agent, again["visit"], VISIT)  # reached this time
    assert list(tasks(client, sup, v["instance_id"])) == ["review"]


def test_flow06_not_resolved_on_the_spot_needs_a_promised_reply_time(flows, client, auth):
    agent = auth("agent")
    v = _planned(client, auth)
    task = tasks(client, agent, v["instance_id"])["visit"]
    body = complete(client, agent, task, {**VISIT, "resolved_on_spot": False}, status=422)
    assert [p["field"] for p in body["problems"]] == ["reply_promised_at"]
    complete(client, agent, task, {**VISIT, "resolved_on_spot": False,
                                   "reply_promised_at": "2026-03-06T10:00:00+08:00"})


def test_flow04_due_soon_reminder_then_overdue_escalation_to_the_supervisor(flows, client, auth):
    sup, agent = auth("supervisor"), auth("agent")
    v = _planned(client, auth)
    assert fire_timers() == 0
    flows.advance(days=4)  # three quarters of the 5-day window have passed
    visit_task = tasks(client, sup, v["instance_id"])["visit"]
    seen = {n["id"] for who in (agent, sup) for n in _notifications(client, who, "reminder")}
    assert fire_timers() == 1
    assert list(tasks(client, sup, v["instance_id"])) == ["visit"]  # the reminder does not interrupt
    # the visitor is told, with a link to the task page, in the same transaction as the timer
    [reminder] = [n for n in _notifications(client, agent, "reminder") if n["id"] not in seen]
    assert reminder["subject"].startswith("回访即将到期 Visit due soon") and "1栋-101" in reminder["subject"]
    assert reminder["link"] == f"/inbox/task/{visit_task['id']}"
    flows.advance(days=1, minutes=1)
    assert fire_timers() == 1
    assert list(tasks(client, sup, v["instance_id"])) == ["handle_overdue"]
    assert visit(client, sup, v["id"])["status"] == "overdue"
    [overdue] = [n for n in _notifications(client, sup, "reminder") if n["id"] not in seen]
    assert overdue["subject"].startswith("回访逾期 Visit overdue") and overdue["link"] == f"/visits/show/{v['id']}"
    complete(client, sup, tasks(client, sup, v["instance_id"])["handle_overdue"], {"opinion": "改派回访员"})
    assert visit(client, sup, v["id"])["status"] == "overdue"


def test_flow10_unqualified_review_runs_complaint_handling_in_the_flow_and_revisits(flows, client, auth, notified,
                                                                                    project):
    """FLOW-10: unqualified → complaint handling as a call activity (complaint_case, with the profile's §5.2
    deadlines) → the manager's processing opinion → re-visit. No separate case: it is this instance's work."""
    sup, agent, manager, dept = auth("supervisor"), auth("agent"), auth("manager"), auth("departmenthead")
    v = _planned(client, auth, project=project("p3f", "P003"))
    complete(client, agent, tasks(client, agent, v["instance_id"])["visit"], {**VISIT, "satisfied": False})
    complete(client, sup, tasks(client, sup, v["instance_id"])["review"], {"qualified": False, "comment": "不合格"})
    assert client.get("/api/v1/visits/?process=complaint_case", headers=sup).json["count"] == 0
    expected = complaint_deadlines(effective_policy("p3f")["params"], "MINOR", flows.now())
    assert any(n.get("roles") == ["Manager"] and n["link"] == f"/visits/show/{v['id']}" for n in notified)
    reply = tasks(client, sup, v["instance_id"])["reply"]
    assert reply["role"] == "Supervisor" and reply["process"] == "followup_visit"
    assert datetime.fromisoformat(reply["due_at"]) == expected["reply_due"]  # P003 §5.2, MINOR: 1 working day
    assert visit(client, sup, v["id"])["result"] == "unqualified"
    # the called process's SLA timers are this instance's timers: a missed reply escalates (CMP-01)
    flows.advance(days=4)
    assert fire_timers() == 1  # the reply deadline (resolve_late waits for the resolve task)
    escalations = tasks(client, manager, v["instance_id"])
    assert {"reply_escalation", "reply"} <= set(escalations) and escalations["reply_escalation"]["role"] == "Manager"
    complete(client, sup, reply, {"replied_at": "2026-03-05T11:00:00+08:00", "reply": "已联系业主"})
    resolve = tasks(client, dept, v["instance_id"])["resolve"]
    assert resolve["role"] == "DepartmentHead" and datetime.fromisoformat(resolve["due_at"]) == expected["resolve_due"]
    complete(client, dept, resolve, {"resolution": "已返修"})
    complete(client, sup, tasks(client, sup, v["instance_id"])["close"], {"closing_note": "结案"})
    # the resolve deadline had passed too (the clock moved 4 days): both follow-ups end the call
    open_ = tasks(client, manager, v["instance_id"])
    assert sorted(open_) == ["reply_escalation", "resolve_escalation"]
    for escalation in open_.values():
        complete(client, manager, escalation, {"opinion": "已督办"})
    # closing the complaint inside the visit starts no extra complaint visit: the flow re-visits itself
    assert client.get("/api/v1/visits/", headers=sup).json["count"] == 1
    complete(client, manager, tasks(client, manager, v["instance_id"])["manager_opinion"], {"opinion": "返修"})
    assert list(tasks(client, agent, v["instance_id"])) == ["visit"]
    assert visit(client, sup, v["id"])["revisits"] == 1


def test_amb21_three_unsatisfied_revisits_escalate_to_the_vp(flows, client, auth, notified):
    sup, agent, manager, vp = auth("supervisor"), auth("agent"), auth("manager"), auth("vp")
    v = _planned(client, auth)
    for round_ in range(4):
        complete(client, agent, tasks(client, agent, v["instance_id"])["visit"], {**VISIT, "satisfied": False})
        complete(client, sup, tasks(client, sup, v["instance_id"])["review"], {"qualified": False, "comment": "x"})
        _handle_complaint(client, auth, v["instance_id"])
        complete(client, manager, tasks(client, manager, v["instance_id"])["manager_opinion"],
                 {"opinion": f"第{round_ + 1}次处理"})
        if round_ < 3:
            assert list(tasks(client, sup, v["instance_id"])) == ["visit"]
    assert list(tasks(client, vp, v["instance_id"])) == ["vp_opinion"]
    assert visit(client, sup, v["id"])["status"] == "escalated"
    assert any(n.get("roles") == ["VP"] for n in notified)
    complete(client, vp, tasks(client, vp, v["instance_id"])["vp_opinion"], {"opinion": "副总督办"})
    assert visit(client, sup, v["id"])["status"] == "escalated"


def _handle_complaint(client, auth, instance_id):
    """Work the complaint_case call activity of an unqualified visit to its end."""
    sup, dept = auth("supervisor"), auth("departmenthead")
    complete(client, sup, tasks(client, sup, instance_id)["reply"], {"replied_at": "2026-03-05T11:00:00+08:00",
                                                                      "reply": "已联系"})
    complete(client, dept, tasks(client, dept, instance_id)["resolve"], {"resolution": "已处理"})
    complete(client, sup, tasks(client, sup, instance_id)["close"], {"closing_note": "结案"})


def _notifications(client, headers, kind: str) -> list[dict]:
    r = client.get("/api/v1/notifications/", headers=headers)
    assert r.status_code == 200, r.json
    return [n for n in r.json["result"] if n["kind"] == kind]


def test_s12_the_profile_decides_the_visitor_role_and_the_methods(flows, client, auth, project):
    """§1.2: P000-3 allows PHONE/HOME/LETTER for help visits; P000-1 sends a manager to a MAJOR complaint."""
    sup = auth("supervisor")
    v = start(client, sup, category="help", project=project("p03", "P000-3"))
    plan = tasks(client, sup, v["instance_id"])["plan"]
    body = complete(client, sup, plan, {**PLAN, "method": "WALKABOUT"}, status=422)
    assert [p["field"] for p in body["problems"]] == ["method"] and "PHONE, HOME, LETTER" in body["problems"][0]["message"]
    assert tasks(client, sup, v["instance_id"])["plan"]["id"] == plan["id"]  # nothing changed
    complete(client, sup, plan, {**PLAN, "method": "LETTER"})
    visit_task = tasks(client, sup, v["instance_id"])["visit"]
    body = complete(client, auth("agent"), visit_task, {**VISIT, "method": "WALKABOUT"}, status=422)
    assert [p["field"] for p in body["problems"]] == ["method"]

    major = start(client, sup, category="complaint", severity="MAJOR", process="followup_visit",
                  project=project("p01", "P000-1"))
    plan = tasks(client, sup, major["instance_id"])["plan"]
    body = complete(client, sup, plan, {**PLAN, "visitor": "agent"}, status=422)
    assert [p["field"] for p in body["problems"]] == ["visitor"] and "Manager" in body["problems"][0]["message"]
    body = complete(client, sup, plan, {**PLAN, "visitor": "nobody"}, status=422)
    assert "no active user named nobody" in body["problems"][0]["message"]
    complete(client, sup, plan, {**PLAN, "visitor": "manager"})
    assert tasks(client, sup, major["instance_id"])["visit"]["assignee"] == "manager"


def test_amb44_a_general_complaint_is_visited_jointly_and_both_sign(flows, client, auth, project):
    """P000-2: a MINOR (general) complaint is visited by the department head and the visitor together."""
    sup, agent, dept = auth("supervisor"), auth("agent"), auth("departmenthead")
    v = start(client, sup, category="complaint", severity="MINOR", process="followup_visit",
              project=project("p02", "P000-2"))
    plan = tasks(client, sup, v["instance_id"])["plan"]
    body = complete(client, sup, plan, PLAN, status=422)
    assert [p["field"] for p in body["problems"]] == ["co_visitor"]
    body = complete(client, sup, plan, {**PLAN, "co_visitor": "agent"}, status=422)  # one person, one role
    assert [p["field"] for p in body["problems"]] == ["co_visitor"]
    complete(client, sup, plan, {**PLAN, "co_visitor": "departmenthead"})
    complete(client, agent, tasks(client, agent, v["instance_id"])["visit"], VISIT)
    co_sign = tasks(client, dept, v["instance_id"])["co_sign"]
    assert co_sign["assignee"] == "departmenthead"
    complete(client, agent, co_sign, {"co_visitor_signed": True}, status=403)  # only the joint visitor signs
    body = complete(client, dept, co_sign, {"co_visitor_signed": False}, status=422)
    assert [p["field"] for p in body["problems"]] == ["co_visitor_signed"]
    complete(client, dept, co_sign, {"co_visitor_signed": True, "comment": "属实"})
    assert list(tasks(client, sup, v["instance_id"])) == ["review"]


def test_amb44_a_visit_without_a_joint_visitor_goes_straight_to_review(flows, client, auth):
    v = _planned(client, auth)
    complete(client, auth("agent"), tasks(client, auth("agent"), v["instance_id"])["visit"], VISIT)
    assert list(tasks(client, auth("supervisor"), v["instance_id"])) == ["review"]


def test_flow08_a_reached_visit_needs_the_visitors_signature(flows, client, auth):
    agent = auth("agent")
    v = _planned(client, auth)
    task = tasks(client, agent, v["instance_id"])["visit"]
    unsigned = {k: val for k, val in VISIT.items() if k != "visitor_signed"}
    body = complete(client, agent, task, unsigned, status=422)
    assert [p["field"] for p in body["problems"]] == ["visitor_signed"]
    body = complete(client, agent, task, {**VISIT, "visitor_signed": False}, status=422)
    assert [p["field"] for p in body["problems"]] == ["visitor_signed"]
    # an unreachable attempt has nothing to sign yet
    complete(client, agent, task, {**unsigned, "outcome": "unreachable", "outcome_reason": "无人接听"})
