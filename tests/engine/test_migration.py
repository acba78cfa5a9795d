"""Migrating running instances between versions (workflows/migration.py), engine only (no Flask)."""
from __future__ import annotations

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from tests.conftest import AGENT, load_fixture
from workflows import migration
from workflows.actor import Actor
from workflows.models import EngineEvent, HumanTask, ProcessInstance, Timer
from workflows.versions import diagram_diff

from .diagrams import caller

OWNER = Actor("owner", frozenset({"ProcessOwner"}))


def _versions(engine, *changes):
    xml, forms = load_fixture("two_step")
    text = xml.decode()
    ids = [engine.deploy("two_step", text.encode(), forms, OWNER, comment="v1").id]
    for pairs in changes:
        for old, new in pairs:
            assert old in text
            text = text.replace(old, new)
        ids.append(engine.deploy("two_step", text.encode(), forms, OWNER, comment="next").id)
    return ids


def test_an_open_task_is_reset_onto_the_new_version_and_its_claim_kept(engine, session, frozen_clock):
    v1, v2 = _versions(engine, [('name="回访 Visit"', 'name="回访 Visit by phone"')])
    instance = engine.start("two_step", AGENT, {}, version_id=v1)
    [task] = session.scalars(select(HumanTask)).all()
    engine.claim(task.id, AGENT)
    fire_at = session.scalar(select(Timer.fire_at))

    plan, _workflow = migration.plan(engine, instance.id, v2)
    assert plan.allowed and any("visit" in change and "reset" in change for change in plan.changes)
    migration.migrate(engine, instance.id, v2, OWNER)

    session.expire_all()
    [moved] = session.scalars(select(HumanTask)).all()
    assert (moved.id, moved.name, moved.version_number, moved.assignee) == (task.id, "回访 Visit by phone", 2, "li")
    assert session.scalar(select(Timer.fire_at)) == fire_at  # the reset timer evaluates the same data
    assert session.get(ProcessInstance, instance.id).version_id == v2
    event = session.scalar(select(EngineEvent).where(EngineEvent.kind == "instance_migrated"))
    assert event.detail["from_version"] == 1 and event.detail["to_version"] == 2 and event.actor == "owner"
    engine.complete(moved.id, AGENT, {"result": "satisfied"})
    assert session.scalar(select(HumanTask.bpmn_id)) == "review"


def test_refused_when_a_completed_task_would_change_and_nothing_changes(engine, session, frozen_clock):
    v1, v2 = _versions(engine, [("timedelta(days=3)", "timedelta(days=5)")])
    instance = engine.start("two_step", AGENT, {}, version_id=v1)
    lock_version = session.get(ProcessInstance, instance.id).lock_version

    plan, workflow = migration.plan(engine, instance.id, v2)
    assert not plan.allowed and workflow is None
    assert any("(set_due)" in reason and "completed" in reason and "script" in reason for reason in plan.reasons)
    try:
        migration.migrate(engine, instance.id, v2, OWNER)
    except migration.MigrationRefused as err:
        assert err.status == 409 and err.reasons == plan.reasons
    else:
        raise AssertionError("the migration was not refused")
    session.expire_all()
    row = session.get(ProcessInstance, instance.id)
    assert row.version_id == v1 and row.lock_version == lock_version
    assert session.scalar(select(HumanTask.version_number)) == 1


def test_refused_when_an_open_task_would_disappear(engine, session, frozen_clock):
    v1, v2 = _versions(engine, [(f'{attr}"visit"', f'{attr}"visit_by_phone"') for attr in (
        "id=", "sourceRef=", "targetRef=", "attachedToRef=")] + [(">visit<", ">visit_by_phone<")])
    instance = engine.start("two_step", AGENT, {}, version_id=v1)
    plan, _ = migration.plan(engine, instance.id, v2)
    assert not plan.allowed and any("(visit)" in r and "does not exist in version 2" in r for r in plan.reasons)


def test_diagram_diff_names_added_removed_and_changed_elements():
    xml, forms = load_fixture("two_step")
    text = xml.decode()
    changed = (text.replace('name="回访 Visit"', 'name="回访 Visit by phone"')
                   .replace('<bpmn:userTask id="escalate"', '<bpmn:userTask id="escalate_v2"')
                   .replace('targetRef="escalate"', 'targetRef="escalate_v2"')
                   .replace('sourceRef="escalate"', 'sourceRef="escalate_v2"'))
    result = diagram_diff(text, changed, forms, {**forms, "extra.schema.json": {"type": "object"}})
    assert [c["id"] for c in result["tasks"]["changed"]] == ["visit"]
    assert [a["id"] for a in result["tasks"]["added"]] == ["escalate_v2"]
    assert [r["id"] for r in result["tasks"]["removed"]] == ["escalate"]
    assert {c["id"] for c in result["flows"]["changed"]} == {"f5", "f6"}
    assert result["forms"]["added"] == ["extra.schema.json"]
    assert result["marks"]["a"]["escalate"] == "removed" and result["marks"]["b"]["escalate_v2"] == "added"
    assert diagram_diff(text, text)["identical"] is True


def _caller_versions(engine, *changes):
    """two_step deployed as the called process, and 'caller' (start -> call two_step -> end) in versions."""
    xml, forms = load_fixture("two_step")
    engine.deploy("two_step", xml, forms, OWNER, comment="called")
    text = caller("two_step").decode()
    ids = [engine.deploy("caller", text.encode(), {}, OWNER, comment="v1").id]
    for pairs in changes:
        for old, new in pairs:
            assert old in text
            text = text.replace(old, new)
        ids.append(engine.deploy("caller", text.encode(), {}, OWNER, comment="next").id)
    return ids


def _call_state(engine, instance_id: int) -> str:
    row = engine.session.get(ProcessInstance, instance_id)
    version = engine.loaded_version(row.version_id)
    workflow = engine.codec.loads(row.state, version.spec, version.subprocess_specs)
    [call] = [t for t in workflow.get_tasks() if t.task_spec.name == "call_sub"]
    return TaskState.get_name(call.state)


def test_refused_when_a_started_call_activity_would_change_and_nothing_changes(engine, session, frozen_clock):
    """The called process runs (its visit task is open): the call activity is STARTED, and a version that
    changes it cannot take the instance over; the instance goes on, unchanged, on its own version."""
    v1, v2 = _caller_versions(engine, [('name="Call"', 'name="Call the visit"')])
    instance = engine.start("caller", AGENT, {}, version_id=v1)
    [task] = session.scalars(select(HumanTask)).all()
    assert task.bpmn_id == "visit" and _call_state(engine, instance.id) == "STARTED"
    row = session.get(ProcessInstance, instance.id)
    lock_version, state = row.lock_version, row.state
    timers = session.scalars(select(Timer.id)).all()

    plan, workflow = migration.plan(engine, instance.id, v2)
    assert not plan.allowed and workflow is None
    assert plan.reasons == ["task 'Call' (call_sub) is started and would change (bpmn_name)"]
    try:
        migration.migrate(engine, instance.id, v2, OWNER)
    except migration.MigrationRefused as err:
        assert err.status == 409 and err.reasons == plan.reasons and err.instance_id == instance.id
    else:
        raise AssertionError("the migration was not refused")

    session.expire_all()
    row = session.get(ProcessInstance, instance.id)
    assert (row.version_id, row.lock_version, row.state) == (v1, lock_version, state)
    assert session.scalars(select(Timer.id)).all() == timers
    assert [(t.id, t.version_number) for t in session.scalars(select(HumanTask))] == [(task.id, 1)]
    assert not session.scalars(select(EngineEvent).where(EngineEvent.kind == "instance_migrated")).all()
    # it goes on on version 1: the called process's visit, then its review
    engine.complete(task.id, AGENT, {"result": "satisfied"})
    session.expire_all()
    assert [(t.bpmn_id, t.version_number) for t in session.scalars(select(HumanTask))] == [("review", 1)]


def test_refused_when_a_completed_task_of_the_running_called_process_would_change(engine, session, frozen_clock):
    """A new version of the called process (its completed set_due script changed), taken in by a new version
    of the caller: the running call cannot move, and the reason names the called process."""
    v1 = _caller_versions(engine)[0]
    instance = engine.start("caller", AGENT, {}, version_id=v1)
    xml, forms = load_fixture("two_step")
    engine.deploy("two_step", xml.replace(b"timedelta(days=3)", b"timedelta(days=5)"), forms, OWNER, comment="5 d")
    v2 = engine.deploy("caller", caller("two_step"), {}, OWNER, comment="takes the new two_step").id
    assert v2 != v1  # the called process is part of the caller's version
    plan, _ = migration.plan(engine, instance.id, v2)
    assert not plan.allowed
    assert any(r.startswith("called process 'two_step': task") and "(set_due)" in r and "completed" in r
               for r in plan.reasons), plan.reasons
