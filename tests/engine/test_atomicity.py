"""A failure after the workflow ran but before commit leaves the previous state untouched."""
from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from tests.conftest import ADMIN, AGENT
from tests.engine import diagrams
from tests.engine.diagrams import events, snapshot, task_of
from workflows import engine as engine_module
from workflows.errors import ScriptFailed


@pytest.fixture
def started(engine, deploy, session):
    deploy()
    instance = engine.start("two_step", ADMIN)
    return instance, task_of(session, instance.id, "visit")


def test_commit_failure_changes_nothing(started, engine, session, session_factory, monkeypatch):
    instance, visit = started
    before = snapshot(session_factory, instance.id)
    real_commit = session.commit
    calls = []

    def failing_commit():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("COMMIT", {}, Exception("connection lost"))
        return real_commit()

    monkeypatch.setattr(session, "commit", failing_commit)
    with pytest.raises(OperationalError):
        engine.complete(visit.id, AGENT, {"result": "satisfied"})
    assert snapshot(session_factory, instance.id) == before
    assert not events(session, "task_completed")

    # The engine must not keep the unsaved workflow: trying again works from the stored state.
    engine.complete(visit.id, AGENT, {"result": "satisfied"})
    after = snapshot(session_factory, instance.id)
    assert after["lock_version"] == before["lock_version"] + 1
    assert [t[1] for t in after["tasks"]] == ["review"]
    assert len(events(session, "task_completed")) == 1


def test_task_insert_failure_changes_nothing(started, engine, session, session_factory, monkeypatch):
    instance, visit = started
    before = snapshot(session_factory, instance.id)

    def broken(self, *args, **kwargs):
        raise ScriptFailed("task review: cannot create", element_id="review")

    monkeypatch.setattr(engine_module.Engine, "_add_human_task", broken)
    with pytest.raises(ScriptFailed):
        engine.complete(visit.id, AGENT, {"result": "satisfied"})
    after = snapshot(session_factory, instance.id)
    for key in ("state", "lock_version", "status", "tasks", "timers"):
        assert after[key] == before[key], key
    assert not events(session, "task_completed") and not events(session, "task_created", task_id=None)
    [error] = [e for e in events(session) if e.id not in before["events"]]
    assert (error.kind, error.task_id, error.detail["element_id"]) == ("error", visit.id, "review")

    monkeypatch.undo()
    engine.complete(visit.id, AGENT, {"result": "satisfied"})
    assert [t[1] for t in snapshot(session_factory, instance.id)["tasks"]] == ["review"]


def test_state_write_failure_on_start_stores_nothing(engine, deploy, session, monkeypatch):
    deploy()
    monkeypatch.setattr(engine_module.Engine, "_add_human_task",
                        lambda self, *a, **k: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError):
        engine.start("two_step", ADMIN)
    assert diagrams.count(session, engine_module.ProcessInstance) == 0
    assert diagrams.count(session, engine_module.Timer) == 0
    assert not events(session, "instance_started")
