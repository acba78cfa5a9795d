"""Demo data: the staff of one property project (管理处) and a month of follow-up visits.

Idempotent: a second run adds nothing. Demo users share the password in
HUIFANG_DEMO_PASSWORD (default ``huifang-demo``), printed by the command.
"""
from __future__ import annotations

import os
import random
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from workflows import clock
from workflows.engine import Actor
from workflows.models import HumanTask, ProcessInstance

from .extensions import db
from .services.engine import get_engine

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
HOUSEHOLDS = [f"{b}栋-{f}{r:02d}" for b in (1, 2, 3, 5) for f in range(1, 7) for r in (1, 2)]


def load_demo() -> list[str]:
    sm = current_app.appbuilder.sm
    password = os.environ.get("HUIFANG_DEMO_PASSWORD", "huifang-demo")
    out = []
    for username, first, last, roles in STAFF:
        if sm.find_user(username=username) is None:
            sm.add_user(username, first, last, f"{username}@demo.huifang.local",
                        [sm.find_role(r) for r in roles], password)
    out.append(f"demo users ({', '.join(u for u, *_ in STAFF)}) — password: {password}")
    if db.session.scalar(select(func.count()).select_from(ProcessInstance)):
        out.append("demo visits exist")
        return out

    engine = get_engine()
    rng = random.Random(20240601)
    supervisor = Actor("zhang.supervisor", frozenset({"Supervisor"}))
    manager = Actor("zhao.manager", frozenset({"Manager"}))
    visitors = [Actor(u, frozenset({"Agent"})) for u in ("li.visitor", "wang.visitor")]
    month_start = clock.now() - timedelta(days=30)
    count = 0
    for day in range(0, 30, 2):
        moment = month_start + timedelta(days=day, hours=rng.randint(1, 8))
        with clock.using(clock.FrozenClock(moment)):
            household = rng.choice(HOUSEHOLDS)
            instance = engine.start("followup_visit", supervisor, {"household": household, "category": "repair"},
                                    business_key=household)
            count += 1
            stage = rng.random()
            if stage < 0.15:
                continue  # still being planned
            visitor = rng.choice(visitors)
            _complete(engine, instance.id, supervisor, {"visitor": visitor.username, "method": rng.choice(
                ["HOME", "PHONE"]), "window_days": 3, "content": "维修质量、服务态度 Repair quality, attitude"})
            if stage < 0.45 and day > 20:
                continue  # visit still open (some due soon)
            if stage < 0.45:
                continue  # overdue: the worker escalates it
            satisfied = rng.random() > 0.2
            _complete(engine, instance.id, visitor, {"visited_at": (moment + timedelta(days=1)).isoformat(),
                                                     "satisfied": satisfied, "customer_signed": True,
                                                     "summary": "业主对维修满意" if satisfied else "业主反映漏水未修好"})
            if stage < 0.6:
                continue  # waiting for review
            _complete(engine, instance.id, supervisor, {"qualified": satisfied,
                                                        "comment": "合格" if satisfied else "不合格，转经理处理"})
            if not satisfied:
                _complete(engine, instance.id, manager, {"opinion": "安排工程部返修并再次回访"})
    out.append(f"demo visits started: {count}")
    return out


def _complete(engine, instance_id: int, actor: Actor, data: dict) -> None:
    task = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id))
    engine.complete(task.id, actor, data)
