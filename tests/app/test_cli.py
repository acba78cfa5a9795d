"""`flask huifang …`: init, add-user, worker, demo."""
from __future__ import annotations

import re
import signal

from flask_appbuilder.security.sqla.models import PermissionView, Role, assoc_permissionview_role
from flask_migrate import upgrade
from sqlalchemy import func, select

from app.extensions import db
from app.security import ROLES
from app.services.engine import BPMN_DIR, get_engine
from workflows import clock
from workflows.actor import Actor
from workflows.models import HumanTask, ProcessInstance, ProcessVersion, Timer

from .conftest import PASSWORD, PLAN, make_app


def _count(what) -> int:
    return db.session.scalar(select(func.count()).select_from(what))


def _snapshot() -> dict:
    db.session.expire_all()
    return {"versions": _count(ProcessVersion), "roles": _count(Role), "permission_views": _count(PermissionView),
            "role_permissions": _count(assoc_permissionview_role),
            "role_names": sorted(r.name for r in db.session.scalars(select(Role)))}


def _jwt_login(app, username, password) -> int:
    return app.test_client().post("/api/v1/security/login", json={
        "username": username, "password": password, "provider": "db"}).status_code


def test_init_on_a_fresh_database(fresh_database_url, monkeypatch):
    app = make_app(fresh_database_url)
    runner = app.test_cli_runner()
    monkeypatch.delenv("HUIFANG_ADMIN_PASSWORD", raising=False)
    with app.app_context():
        upgrade()
    try:
        first = runner.invoke(args=["huifang", "init"])
        assert first.exit_code == 0, first.output
        assert "process model followup_visit: version 1" in first.output
        password = re.search(r"login admin / (\S+)", first.output).group(1)
        assert _jwt_login(app, "admin", password) == 200

        with app.app_context():
            before = _snapshot()
        # one version of each shipped diagram
        assert set(ROLES) <= set(before["role_names"]) and before["versions"] == len(list(BPMN_DIR.glob("*.bpmn"))) == 9

        second = runner.invoke(args=["huifang", "init"])
        assert second.exit_code == 0, second.output
        assert "admin user exists" in second.output and "login admin /" not in second.output
        with app.app_context():
            assert _snapshot() == before
        assert _jwt_login(app, "admin", password) == 200  # the password was not changed

        # without an admin, HUIFANG_ADMIN_PASSWORD sets the new admin's password and is not printed
        with app.app_context():
            sm = app.appbuilder.sm
            db.session.delete(sm.find_user(username="admin"))
            db.session.commit()
        monkeypatch.setenv("HUIFANG_ADMIN_PASSWORD", "from-the-environment-1")
        third = runner.invoke(args=["huifang", "init"])
        assert third.exit_code == 0, third.output
        assert "HUIFANG_ADMIN_PASSWORD" in third.output and "from-the-environment-1" not in third.output
        assert _jwt_login(app, "admin", "from-the-environment-1") == 200
        assert _jwt_login(app, "admin", password) == 401
        with app.app_context():
            assert _snapshot() == before
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_add_user(app_ctx):
    runner = app_ctx.test_cli_runner()
    result = runner.invoke(args=["huifang", "add-user", "ghost", "--role", "Janitor", "--password", "x-password-1"])
    assert result.exit_code != 0
    assert "no role named Janitor" in result.output and "Supervisor" in result.output
    assert app_ctx.appbuilder.sm.find_user(username="ghost") is None

    result = runner.invoke(args=["huifang", "add-user", "wang.li", "--role", "Agent", "--role", "Archivist",
                                 "--password", PASSWORD])
    if "exists" not in result.output:
        assert result.exit_code == 0 and "created" in result.output, result.output
    result = runner.invoke(args=["huifang", "add-user", "wang.li", "--role", "Agent", "--password", "other"])
    assert result.exit_code == 0 and "exists" in result.output
    user = app_ctx.appbuilder.sm.find_user(username="wang.li")
    assert sorted(r.name for r in user.roles) == ["Agent", "Archivist"]
    assert _jwt_login(app_ctx, "wang.li", PASSWORD) == 200


def test_worker_once_fires_due_timers(app_ctx):
    runner = app_ctx.test_cli_runner()
    engine = get_engine()
    supervisor = Actor("supervisor", frozenset({"Supervisor"}))
    frozen = clock.FrozenClock()
    handlers = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    with clock.using(frozen):
        instance = engine.start("followup_visit", supervisor, {"household": "5栋-101"}, business_key="5栋-101")
        plan = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id))
        engine.complete(plan.id, supervisor, PLAN)  # a 3-day window: the overdue timer waits 3 days

        result = runner.invoke(args=["huifang", "worker", "--once"])
        assert result.exit_code == 0, result.output
        assert "fired" not in result.output and "worker stopped" in result.output

        frozen.advance(days=3, minutes=1)
        result = runner.invoke(args=["huifang", "worker", "--once"])
        assert result.exit_code == 0, result.output
        # the due-soon reminder (FLOW-04) and the overdue escalation
        assert "fired 2 timer(s)" in result.output

    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    db.session.expire_all()
    tasks = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).all()
    assert [t.bpmn_id for t in tasks] == ["handle_overdue"]
    assert _count(select(Timer).where(Timer.instance_id == instance.id).subquery()) == 0


def test_demo_is_idempotent_and_varied(fresh_database_url):
    """On a database of its own: the demo's month of data (its repairs not drawn yet today) must not become
    other tests' business."""
    app = make_app(fresh_database_url)
    with app.app_context():
        upgrade()
    runner = app.test_cli_runner()
    init = runner.invoke(args=["huifang", "init"])
    assert init.exit_code == 0, init.output
    try:
        with app.app_context():
            _demo_is_idempotent_and_varied(app, runner)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _demo_is_idempotent_and_varied(app, runner):
    first = runner.invoke(args=["huifang", "demo"])
    assert first.exit_code == 0, first.output
    assert "demo visits started" in first.output
    db.session.expire_all()
    instances = _count(ProcessInstance)
    tasks = sorted(db.session.scalars(select(HumanTask.bpmn_id)))
    statuses = set(db.session.scalars(select(ProcessInstance.status)))
    assert instances >= 10
    assert {"plan", "visit", "review"} <= set(tasks), tasks
    assert {"running", "completed"} <= statuses, statuses
    # a month of 翠苑小区: ~60 service events of several categories, a repair sample, numbered forms
    from app.models.visit import RepairSample, Visit, VisitForm
    visits = db.session.scalars(select(Visit)).all()
    assert len(visits) >= 40 and len({v.category for v in visits}) >= 5
    assert {"planned", "in_progress", "review", "archived"} <= {v.status for v in visits}
    assert _count(VisitForm) >= 20
    # SMP-04: 翠苑小区 (P000-3) had its repairs drawn day by day, ≥10% of each month's repairs
    months: dict[str, list[int]] = {}
    for row in db.session.scalars(select(RepairSample)):
        assert len(row.period) == 10  # a day: YYYY-MM-DD
        totals = months.setdefault(row.period[:7], [0, 0])
        totals[0], totals[1] = totals[0] + len(row.population), totals[1] + len(row.sample)
    assert months and all(drawn * 10 >= repairs for repairs, drawn in months.values()), months
    assert _count(select(Visit).where(Visit.process_key == "repair_followup").subquery()) == sum(
        drawn for _repairs, drawn in months.values())
    # the periodic side is set up too: the quarter's theme in the visits, the period's survey, the filing task
    from app.models.stats import Survey
    from app.services.engine import get_engine

    assert "visit theme of" in first.output and _count(Survey) >= 1
    assert any("theme" in get_engine().workflow_data(v.instance_id) for v in visits
               if v.process_key == "followup_visit" and v.status != "destroyed")
    assert "filing tasks:" in first.output

    second = runner.invoke(args=["huifang", "demo"])
    assert second.exit_code == 0, second.output
    assert "demo visits exist" in second.output
    db.session.expire_all()
    assert _count(ProcessInstance) == instances
    assert sorted(db.session.scalars(select(HumanTask.bpmn_id))) == tasks
    assert _jwt_login(app, "li.visitor", "huifang-demo") == 200

    # visits from a month ago are overdue: the worker escalates them
    result = runner.invoke(args=["huifang", "worker", "--once"])
    assert result.exit_code == 0 and re.search(r"fired \d+ timer", result.output), result.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).where(HumanTask.bpmn_id == "handle_overdue")) >= 1
