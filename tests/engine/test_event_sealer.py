"""The engine's event hook (crypto-shredding, RET-14): the app decides how an event's detail is stored; the
engine works the same without one."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import ADMIN, AGENT, SUPERVISOR
from tests.engine.diagrams import events, task_of
from workflows.errors import Conflict
from workflows.models import EngineEvent


def _run(engine, deploy, session) -> int:
    deploy()
    instance = engine.start("two_step", ADMIN, {"household": "A-101"}, business_key="A-101")
    engine.complete(task_of(session, instance.id, "visit").id, AGENT, {"result": "satisfied", "note": "好"})
    engine.complete(task_of(session, instance.id, "review").id, SUPERVISOR, {"qualified": True})
    return instance.id


def test_without_a_hook_details_are_stored_as_given(engine, deploy, session):
    assert engine.event_sealer is None
    instance_id = _run(engine, deploy, session)
    visit, review = events(session, "task_completed")
    assert visit.detail == {"bpmn_id": "visit", "name": visit.detail["name"], "data": {"result": "satisfied",
                                                                                       "note": "好"}}
    assert review.detail["data"] == {"qualified": True}
    assert engine.workflow_data(instance_id)["result"] == "satisfied"


def test_a_hook_decides_what_is_stored_in_the_operations_transaction(engine, deploy, session):
    calls = []

    def sealer(hook_session, kind, instance_id, detail):
        calls.append((kind, instance_id, dict(detail)))
        assert hook_session is session and session.in_transaction()
        if "data" not in detail:
            return detail
        return {**{k: v for k, v in detail.items() if k != "data"}, "sealed": sorted(detail["data"])}

    deploy()
    engine.event_sealer = sealer
    instance = engine.start("two_step", ADMIN, {"household": "A-102"}, business_key="A-102")
    engine.complete(task_of(session, instance.id, "visit").id, AGENT, {"result": "satisfied", "note": "好"})
    visit = events(session, "task_completed")[0]
    assert visit.detail == {"bpmn_id": "visit", "name": visit.detail["name"], "sealed": ["note", "result"]}
    # the hook saw every event, with the instance it belongs to, before it was written
    assert [kind for kind, *_ in calls][:2] == ["instance_started", "task_created"]
    assert [c for c in calls if c[0] == "task_completed"][0][1:] == (
        instance.id, {"bpmn_id": "visit", "name": visit.detail["name"], "data": {"result": "satisfied", "note": "好"}})
    # the workflow itself is untouched: the data is where the flow needs it
    assert engine.workflow_data(instance.id)["note"] == "好"


def test_a_failing_hook_fails_the_operation_and_changes_nothing(engine, deploy, session):
    deploy()
    instance = engine.start("two_step", ADMIN, {"household": "A-103"}, business_key="A-103")
    task = task_of(session, instance.id, "visit")
    before = session.scalar(select(EngineEvent.id).order_by(EngineEvent.id.desc()).limit(1))

    def broken(*_args):
        raise Conflict("the key table is locked")

    engine.event_sealer = broken
    with pytest.raises(Conflict, match="key table"):
        engine.complete(task.id, AGENT, {"result": "satisfied"})
    engine.event_sealer = None
    assert session.scalar(select(EngineEvent.id).order_by(EngineEvent.id.desc()).limit(1)) == before
    assert task_of(session, instance.id, "visit").id == task.id  # still open
    engine.complete(task.id, AGENT, {"result": "satisfied"})
