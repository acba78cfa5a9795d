"""Boundary timers: stored with their due time, fired once when due, gone when their task is done."""
from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from tests.conftest import ADMIN, AGENT, SUPERVISOR, _create_pg_database, _drop_pg_database, load_fixture
from tests.engine.diagrams import count, events, open_tasks, task_of
from tests.engine.timer_worker import sweep
from workflows.actor import Actor
from workflows.engine import Engine
from workflows.models import Base, EngineEvent, HumanTask, ProcessInstance, Timer

OWNER = Actor("owner", frozenset({"ProcessOwner"}))


@pytest.fixture
def started(engine, deploy, session):
    deploy()
    instance = engine.start("two_step", ADMIN)
    return instance, task_of(session, instance.id, "visit")


def test_timer_row_has_the_due_time(started, session, frozen_clock):
    instance, visit = started
    [timer] = session.scalars(select(Timer))
    assert (timer.instance_id, timer.bpmn_id, timer.name) == (instance.id, "visit_overdue", "逾期 Overdue")
    assert timer.fire_at.replace(tzinfo=None) == (frozen_clock.now() + timedelta(days=3)).replace(tzinfo=None)
    assert engine_due(session) == []


def engine_due(session):
    return Engine(session).due_timers()


def test_fires_once_when_due(started, engine, session, frozen_clock):
    instance, visit = started
    [timer] = session.scalars(select(Timer))
    timer_id = timer.id
    frozen_clock.advance(days=3, seconds=-1)
    assert engine.fire_due_timers() == 0
    frozen_clock.advance(seconds=1)  # exactly due: SpiffWorkflow fires only once the moment has passed
    assert engine.due_timers() == [] and engine.fire_due_timers() == 0
    assert count(session, Timer) == 1 and task_of(session, instance.id, "visit") is not None
    assert events(session, "timer_fired") == []

    frozen_clock.advance(seconds=1)
    assert [t.id for t in engine.due_timers()] == [timer_id]
    assert engine.fire_due_timers() == 1
    session.expire_all()
    [fired] = events(session, "timer_fired")
    assert (fired.actor, fired.instance_id, fired.task_id) == ("system", instance.id, timer_id)
    assert count(session, Timer) == 0
    assert [t.bpmn_id for t in open_tasks(session, instance.id)] == ["escalate"]  # visit was interrupted
    assert engine.fire_due_timers() == 0
    frozen_clock.advance(days=10)
    assert engine.fire_due_timers() == 0
    assert len(events(session, "timer_fired")) == 1

    escalate = task_of(session, instance.id, "escalate")
    assert escalate.role == "Supervisor"
    engine.complete(escalate.id, SUPERVISOR, {"qualified": False})
    session.expire_all()
    assert session.get(ProcessInstance, instance.id).status == "completed"


def test_fired_on_a_fresh_engine(started, session_factory, frozen_clock):
    """The sweep works from the database alone (no workflow cached)."""
    instance, visit = started
    frozen_clock.advance(days=4)
    with session_factory() as s:
        assert Engine(s).fire_due_timers() == 1
        assert task_of(s, instance.id, "escalate") is not None


def test_completing_the_task_removes_the_timer(started, engine, session, frozen_clock):
    instance, visit = started
    frozen_clock.advance(days=1)
    engine.complete(visit.id, AGENT, {"result": "satisfied"})
    assert count(session, Timer) == 0
    frozen_clock.advance(days=5)
    assert engine.fire_due_timers() == 0
    assert events(session, "timer_fired") == []
    assert [t.bpmn_id for t in open_tasks(session, instance.id)] == ["review"]


def test_sweep_in_batches(engine, deploy, session, frozen_clock):
    deploy()
    ids = [engine.start("two_step", ADMIN).id for _ in range(7)]
    frozen_clock.advance(days=3, seconds=1)
    assert engine.fire_due_timers(batch=3) == 7
    assert count(session, Timer) == 0
    assert sorted(t.instance_id for t in open_tasks(session)) == ids
    assert all(t.bpmn_id == "escalate" for t in open_tasks(session))


# ---------------------------------------------------------------- several workers, PostgreSQL only

@pytest.fixture(scope="module")
def pg_url():
    """A PostgreSQL database of its own: multi-process exactly-once only means something there."""
    url = _create_pg_database()
    db = sa.create_engine(url)
    Base.metadata.create_all(db)
    db.dispose()
    yield url
    _drop_pg_database(url)


INSTANCES = 60
WORKERS = 3


def test_workers_fire_each_timer_exactly_once(pg_url, frozen_clock):
    db = sa.create_engine(pg_url)
    factory = sessionmaker(db)
    xml, forms = load_fixture("two_step")
    with factory() as s:
        engine = Engine(s)
        engine.deploy("two_step", xml, forms, OWNER)
        for i in range(INSTANCES):
            engine.start("two_step", ADMIN, business_key=f"B-{i}")
        timer_ids = set(s.scalars(select(Timer.id)))
    assert len(timer_ids) == INSTANCES
    db.dispose()

    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    at = (frozen_clock.now() + timedelta(days=3, minutes=1)).isoformat()
    workers = [ctx.Process(target=sweep, args=(pg_url, at, barrier, results)) for _ in range(WORKERS)]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=90) for _ in workers]
    for w in workers:
        w.join(30)
    assert all(isinstance(o, int) for o in outcomes), outcomes
    assert sum(outcomes) == INSTANCES

    db = sa.create_engine(pg_url)
    with sessionmaker(db)() as s:
        fired = Counter(s.scalars(select(EngineEvent.task_id).where(EngineEvent.kind == "timer_fired")))
        assert set(fired) == timer_ids and set(fired.values()) == {1}
        assert count(s, HumanTask, HumanTask.bpmn_id == "escalate") == INSTANCES
        assert count(s, HumanTask, HumanTask.bpmn_id == "visit") == 0
        assert count(s, Timer) == 0
        assert not events(s, "error")
    db.dispose()



def test_one_failing_instance_does_not_stop_the_batch(engine, deploy, session, frozen_clock, monkeypatch):
    """A sweep fires every other instance's timers when one instance fails; the failure is recorded
    and that instance's timer is postponed, its state untouched."""
    deploy()
    first = engine.start("two_step", ADMIN)
    second = engine.start("two_step", ADMIN)
    broken_state = session.get(ProcessInstance, first.id).state
    real_workflow = Engine._workflow

    def failing_for_first(self, instance, version):
        if instance.id == first.id:
            raise RuntimeError("disk on fire")
        return real_workflow(self, instance, version)

    monkeypatch.setattr(Engine, "_workflow", failing_for_first)
    frozen_clock.advance(days=3, seconds=1)
    assert engine.fire_due_timers() == 1
    session.expire_all()
    assert [t.bpmn_id for t in open_tasks(session, second.id)] == ["escalate"]
    assert session.get(ProcessInstance, first.id).state == broken_state
    [error] = events(session, "error")
    assert error.instance_id == first.id and "disk on fire" in error.detail["message"]
    [postponed] = session.scalars(select(Timer).where(Timer.instance_id == first.id))
    assert postponed.fire_at.replace(tzinfo=None) > frozen_clock.now().replace(tzinfo=None)
