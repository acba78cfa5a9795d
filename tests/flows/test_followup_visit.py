"""followup_visit end to end through the REST API (FLOW-01 … FLOW-11, AMB-21, AMB-27, 001-S)."""
from __future__ import annotations

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
    sup = auth("supervisor")
    v = _planned(client, auth)
    assert fire_timers() == 0
    flows.advance(days=4)  # three quarters of the 5-day window have passed
    assert fire_timers() == 1
    assert list(tasks(client, sup, v["instance_id"])) == ["visit"]  # the reminder does not interrupt
    flows.advance(days=1, minutes=1)
    assert fire_timers() == 1
    assert list(tasks(client, sup, v["instance_id"])) == ["handle_overdue"]
    assert visit(client, sup, v["id"])["status"] == "overdue"
    complete(client, sup, tasks(client, sup, v["instance_id"])["handle_overdue"], {"opinion": "改派回访员"})
    assert visit(client, sup, v["id"])["status"] == "overdue"


def test_flow10_unqualified_review_starts_complaint_handling_and_a_revisit(flows, client, auth, notified):
    sup, agent, manager = auth("supervisor"), auth("agent"), auth("manager")
    v = _planned(client, auth)
    complete(client, agent, tasks(client, agent, v["instance_id"])["visit"], {**VISIT, "satisfied": False})
    complete(client, sup, tasks(client, sup, v["instance_id"])["review"], {"qualified": False, "comment": "不合格"})
    # a complaint case was opened for the same household
    r = client.get("/api/v1/visits/?process=complaint_case", headers=sup)
    [case] = r.json["result"]
    assert case["household"] == "1栋-101" and case["status"] == "planned"
    assert any(n.get("roles") == ["Manager"] for n in notified)
    # the manager records the processing opinion and the flow re-visits
    complete(client, manager, tasks(client, manager, v["instance_id"])["manager_opinion"], {"opinion": "返修"})
    assert list(tasks(client, agent, v["instance_id"])) == ["visit"]
    assert visit(client, sup, v["id"])["revisits"] == 1


def test_amb21_three_unsatisfied_revisits_escalate_to_the_vp(flows, client, auth, notified):
    sup, agent, manager, vp = auth("supervisor"), auth("agent"), auth("manager"), auth("vp")
    v = _planned(client, auth)
    for round_ in range(4):
        complete(client, agent, tasks(client, agent, v["instance_id"])["visit"], {**VISIT, "satisfied": False})
        complete(client, sup, tasks(client, sup, v["instance_id"])["review"], {"qualified": False, "comment": "x"})
        complete(client, manager, tasks(client, manager, v["instance_id"])["manager_opinion"],
                 {"opinion": f"第{round_ + 1}次处理"})
        if round_ < 3:
            assert list(tasks(client, sup, v["instance_id"])) == ["visit"]
    assert list(tasks(client, vp, v["instance_id"])) == ["vp_opinion"]
    assert visit(client, sup, v["id"])["status"] == "escalated"
    assert any(n.get("roles") == ["VP"] for n in notified)
    complete(client, vp, tasks(client, vp, v["instance_id"])["vp_opinion"], {"opinion": "副总督办"})
    assert visit(client, sup, v["id"])["status"] == "escalated"
