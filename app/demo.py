"""Demo data: the staff of 翠苑小区 (INTAKE's demo project) and a realistic month of service events
and the follow-up flows they started, left in every state a supervisor sees on a working day.

Idempotent: a second run adds nothing. Demo users share the password in
HUIFANG_DEMO_PASSWORD (default ``huifang-demo``), printed by the command.
"""
from __future__ import annotations

import os
import random
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from workflows import clock
from workflows.actor import Actor
from workflows.errors import Conflict
from workflows.models import HumanTask
from workflows.policy.reporting import period_containing

from .extensions import db
from .models.visit import Visit
from .services.engine import get_engine
from .services.flows.repair_sampling import draw_due_repair_samples
from .services.flows.tasks import complete_task
from .services.intake.events import complete_event, ensure_demo_project, record_event
from .services.records.retention import start_due_filings
from .services.reporting.reports import start_due_reports
from .services.reporting.surveys import issue_due_surveys, publish_theme

STAFF = [
    ("zhang.supervisor", "张", "主管", ["Supervisor"]),
    ("li.visitor", "李", "回访员", ["Agent"]),
    ("wang.visitor", "王", "回访员", ["Agent"]),
    ("zhao.manager", "赵", "经理", ["Manager"]),
    ("chen.owner", "陈", "流程负责人", ["ProcessOwner"]),
    ("sun.auditor", "孙", "审计", ["Auditor"]),
    ("zhou.vp", "周", "副总", ["VP"]),
    ("wu.quality", "吴", "品质部", ["QualityDept"]),
    ("zheng.archivist", "郑", "档案员", ["Archivist"]),
    ("feng.engineering", "冯", "工程部主管", ["DepartmentHead"]),
]
# (category, weight, what the customer said)
CATEGORIES = [
    ("repair", 40, "厨房水龙头漏水 kitchen tap leaking"),
    ("help", 18, "帮忙搬运家具 help moving furniture"),
    ("complaint", 14, "夜间装修噪音 renovation noise at night"),
    ("decoration", 8, "装修完工验收 decoration completed"),
    ("special_service", 6, "家政保洁合同 housekeeping contract"),
    ("emergency_patient", 5, "老人突发疾病送医 elderly resident taken ill"),
    ("publication_event", 5, "社区文化活动 community event"),
    ("other", 4, "信报箱损坏 mailbox broken"),
]
EVENTS = 60
SUPERVISOR = Actor("zhang.supervisor", frozenset({"Supervisor"}))
MANAGER = Actor("zhao.manager", frozenset({"Manager"}))
DEPT = Actor("feng.engineering", frozenset({"DepartmentHead"}))
VISITORS = [Actor(u, frozenset({"Agent"})) for u in ("li.visitor", "wang.visitor")]


def load_demo() -> list[str]:
    sm = current_app.appbuilder.sm
    password = os.environ.get("HUIFANG_DEMO_PASSWORD", "huifang-demo")
    out = []
    for username, first, last, roles in STAFF:
        if sm.find_user(username=username) is None:
            sm.add_user(username, first, last, f"{username}@demo.huifang.local",
                        [sm.find_role(r) for r in roles], password)
    out.append(f"demo users ({', '.join(u for u, *_ in STAFF)}) — password: {password}")
    project = ensure_demo_project()
    if db.session.scalar(select(func.count()).select_from(Visit).where(Visit.project_key == project.key)):
        out.append("demo visits exist")
        return out

    out.append(_quarter_theme())
    rng = random.Random(20260601)
    households = sorted(project.households, key=lambda h: h.file_no)
    month_start = clock.now() - timedelta(days=30)
    weights = [w for _c, w, _t in CATEGORIES]
    for i in range(EVENTS):
        moment = month_start + timedelta(hours=12 * i + rng.randint(0, 5))
        category, _w, content = rng.choices(CATEGORIES, weights)[0]
        household = rng.choice(households)
        data = {"project": project.key, "household_id": household.id, "category": category, "content": content,
                "source": rng.choice("abdfg"), "received_at": moment.isoformat()}
        if category == "complaint":
            data["severity"] = rng.choices(["MAJOR", "IMPORTANT", "MINOR"], [1, 3, 6])[0]
        if category == "special_service":
            data["contract_start"] = (moment - timedelta(days=60)).isoformat()
            data["contract_end"] = (moment + timedelta(days=120)).isoformat()
        # The events carry their past times; the flows start now under the policy version in effect
        # now, with windows computed from those past triggers (so the early ones are overdue).
        event = record_event(data, SUPERVISOR.username)
        done_at = moment + timedelta(hours=rng.randint(2, 30))
        if category == "complaint" or done_at > clock.now():
            continue
        complete_event(event.id, done_at.isoformat())

    visits = db.session.scalars(select(Visit).where(Visit.project_key == project.key).order_by(Visit.id)).all()
    for visit in visits:
        _drive(visit, rng)
    # SMP-04: the worker drew each day's repairs at the profile's rate (P000-3: 10%, HOME ≥20%), the day after
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    for back in range(30, -1, -1):
        draw_due_repair_samples(SUPERVISOR, day=(clock.now() - timedelta(days=back)).astimezone(zone).date())
    # The worker ran mid-month: visits overdue by then were escalated; later ones wait for it.
    with clock.using(clock.FrozenClock(month_start + timedelta(days=15))):
        get_engine().fire_due_timers()
    count = db.session.scalar(select(func.count()).select_from(Visit).where(Visit.project_key == project.key))
    out.append(f"demo visits started: {count} (from {EVENTS} service events)")
    out += _periodic_side()
    return out


def _quarter_theme() -> str:
    """The customer-service department publishes one visit theme per quarter (GOV-01)."""
    quarter = period_containing(clock.now(), "quarter", ZoneInfo(current_app.config["TIMEZONE"])).label
    try:
        publish_theme(quarter, "冬季供暖与设施安全 Winter heating and safety",
                      "回访时询问供暖是否正常、公共设施是否安全。Ask about heating and the safety of shared facilities.",
                      SUPERVISOR)
    except Conflict:
        return f"visit theme of {quarter} already published"
    return f"visit theme of {quarter} published"


def _periodic_side() -> list[str]:
    """What the worker would have started by now: the period's satisfaction survey, the filing task and the
    periodic report flows (§4, §8, §9)."""
    surveys, filings, reports = issue_due_surveys(), start_due_filings(), start_due_reports()
    return [f"surveys issued: {len(surveys)}; filing tasks: {len(filings)}; report flows: {len(reports)}"]


def _task(visit: Visit, bpmn_id: str):
    return db.session.scalar(select(HumanTask).where(HumanTask.instance_id == visit.instance_id,
                                                     HumanTask.bpmn_id == bpmn_id))


def _step(visit: Visit, bpmn_id: str, actor: Actor, data: dict) -> bool:
    task = _task(visit, bpmn_id)
    if task is None:
        return False
    complete_task(task.id, actor, data)
    return True


PLAN_METHODS = ("HOME", "PHONE", "WALKABOUT", "LETTER")  # the plan form's choices


def _staff_with(role: str) -> list[Actor]:
    return [Actor(name, frozenset(roles)) for name, _s, _t, roles in STAFF if role in roles] or VISITORS


def _drive(visit: Visit, rng: random.Random) -> None:
    """Take a flow some way: some stay planned, some wait for the visit, review, or the manager."""
    stage = rng.random()
    if visit.process_key == "complaint_case":
        _step(visit, "reply", SUPERVISOR, {"replied_at": clock.now().isoformat(), "reply": "已受理，正在处理"})
        if stage > 0.3:
            _step(visit, "resolve", DEPT, {"resolution": "已协调装修方调整施工时间"})
        if stage > 0.5:
            _step(visit, "close", SUPERVISOR, {"closing_note": "业主认可处理结果，结案"})
        return
    if visit.process_key != "followup_visit" or stage < 0.12:
        return  # still being planned
    flow = get_engine().workflow_data(visit.instance_id)
    # §1.2: a method and visitors the project's profile allows (AMB-44: two roles visit general complaints)
    method = rng.choice([m for m in flow.get("allowed_methods") or [] if m in PLAN_METHODS] or ["HOME", "PHONE"])
    roles = flow.get("visitor_role") or ["Agent"]
    visitor = rng.choice(_staff_with(roles[-1]))
    plan = {"visitor": visitor.username, "method": method, "window_days": 3,
            "content": "服务质量、服务态度 quality and attitude"}
    if visit.category == "complaint" and len(roles) > 1:
        plan["co_visitor"] = rng.choice(_staff_with(roles[0])).username
    if stage < 0.4:
        # planned four days ago with a 3-day window and never visited: overdue, for the worker to escalate
        with clock.using(clock.FrozenClock(clock.now() - timedelta(days=4))):
            _step(visit, "plan", SUPERVISOR, plan)
        return
    _step(visit, "plan", SUPERVISOR, plan)
    record = {"visited_at": clock.now().isoformat(), "method": method, "summary": "业主对服务满意",
              "satisfied": True, "customer_signed": True, "visitor_signed": True}
    if stage < 0.48:
        _step(visit, "visit", visitor, {**record, "outcome": "unreachable", "outcome_reason": "电话无人接听"})
        return
    satisfied = rng.random() > 0.2
    _step(visit, "visit", visitor, {**record, "satisfied": satisfied,
                                    "summary": "业主对服务满意" if satisfied else "业主反映问题未解决"})
    if plan.get("co_visitor"):
        _step(visit, "co_sign", Actor(plan["co_visitor"], frozenset(roles)), {"co_visitor_signed": True})
    if stage < 0.6:
        return  # waiting for review
    _step(visit, "review", SUPERVISOR, {"qualified": satisfied, "comment": "合格" if satisfied else "不合格，转经理"})
    if not satisfied and stage > 0.7:
        # FLOW-10: the unqualified visit's complaint handling (the call activity), some of it still under way
        _step(visit, "reply", SUPERVISOR, {"replied_at": clock.now().isoformat(), "reply": "已向业主致歉并说明处理安排"})
        if stage > 0.8:
            _step(visit, "resolve", DEPT, {"resolution": "工程部已返修"})
            _step(visit, "close", SUPERVISOR, {"closing_note": "处理完毕"})
            _step(visit, "manager_opinion", MANAGER, {"opinion": "安排工程部返修并再次回访"})
