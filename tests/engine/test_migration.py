"""Migrating running instances between versions (workflows/migration.py), engine only (no Flask)."""
from __future__ import annotations

from sqlalchemy import select

from tests.conftest import AGENT, load_fixture
from workflows import migration
from workflows.engine import Actor
from workflows.models import EngineEvent, HumanTask, ProcessInstance, Timer
from workflows.versions import diagram_diff

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
