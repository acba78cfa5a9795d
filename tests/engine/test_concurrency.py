"""Two people act on the same task at once: exactly one wins, the instance moves once."""
from __future__ import annotations

import contextvars
import threading
import time

import pytest
from sqlalchemy import text

from tests.conftest import ADMIN, AGENT
from tests.engine.diagrams import events, task_of
from workflows.actor import Actor
from workflows.engine import Engine
from workflows.errors import Conflict, Forbidden, NotFound
from workflows.models import HumanTask, ProcessInstance

OTHER_AGENT = Actor("wang", frozenset({"Agent"}))
ROUNDS = 20


def _race(session_factory, calls):
    """Run each call(engine) in its own thread with its own session, released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        with session_factory() as s:
            engine = Engine(s)
            try:
                prepare = call(engine)  # load what the call needs before the race
                barrier.wait(timeout=10)
                results[i] = ("ok", prepare())
            except Exception as err:  # noqa: BLE001 - the outcome is what is compared
                results[i] = ("error", err)

    threads = [threading.Thread(target=contextvars.copy_context().run, args=(run, i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def _complete_call(task_id, actor):
    def call(engine):
        # The row, the instance and the workflow are loaded (and kept) before the barrier.
        row = engine.task(task_id)
        engine.workflow_data(row.instance_id)
        return lambda: (row, engine.complete(task_id, actor, {"result": "satisfied"}))[1]
    return call


def _claim_call(task_id, actor):
    def call(engine):
        row = engine.task(task_id)
        return lambda: (row, engine.claim(task_id, actor).assignee)[1]
    return call


def _check_one_completion(session, instance_id, task_id, lock_version, results):
    outcomes = sorted(kind for kind, _ in results)
    assert outcomes == ["error", "ok"], results
    [error] = [value for kind, value in results if kind == "error"]
    assert isinstance(error, (Conflict, NotFound)), repr(error)
    session.expire_all()
    assert session.get(ProcessInstance, instance_id).lock_version == lock_version + 1
    assert len(events(session, "task_completed", task_id=task_id)) == 1
    assert session.get(HumanTask, task_id) is None
    assert task_of(session, instance_id, "review") is not None
    assert len([t for t in session.query(HumanTask).filter_by(instance_id=instance_id)]) == 1


def test_concurrent_completions(engine, deploy, session, session_factory, backend):
    deploy()
    rounds = ROUNDS if backend == "postgresql" else 3
    for _ in range(rounds):
        instance = engine.start("two_step", ADMIN)
        visit = task_of(session, instance.id, "visit")
        lock_version = instance.lock_version
        if backend == "postgresql":
            results = _race(session_factory, [_complete_call(visit.id, AGENT), _complete_call(visit.id, OTHER_AGENT)])
        else:
            # SQLite has one writer: interleave instead. Both engines load everything, then both complete.
            results = []
            engines = [Engine(session_factory()) for _ in range(2)]
            calls = [_complete_call(visit.id, actor)(e) for e, actor in zip(engines, [AGENT, OTHER_AGENT])]
            for call in calls:
                try:
                    results.append(("ok", call()))
                except Exception as err:  # noqa: BLE001
                    results.append(("error", err))
            for e in engines:
                e.session.close()
        _check_one_completion(session, instance.id, visit.id, lock_version, results)


def test_stale_session_loses_with_conflict(engine, deploy, session, session_factory):
    """The loser had the task row and the workflow in memory: it must notice at write time."""
    deploy()
    instance = engine.start("two_step", ADMIN)
    visit = task_of(session, instance.id, "visit")
    lock_version = instance.lock_version
    with session_factory() as s1, session_factory() as s2:
        first, second = Engine(s1), Engine(s2)
        held = []  # the identity map is weak: keep the loaded rows alive as a request would
        for e in (first, second):
            held.append((e.task(visit.id), e.task(visit.id).instance))
            e.workflow_data(instance.id)
        first.complete(visit.id, AGENT, {"result": "satisfied"})
        with pytest.raises(Conflict):
            second.complete(visit.id, OTHER_AGENT, {"result": "unsatisfied"})
    _check_one_completion(session, instance.id, visit.id, lock_version, [("ok", None), ("error", Conflict("x"))])
    assert events(session, "task_completed")[0].detail["data"] == {"result": "satisfied"}


def test_concurrent_claims(engine, deploy, session, session_factory, backend):
    deploy()
    rounds = ROUNDS if backend == "postgresql" else 1
    for _ in range(rounds):
        instance = engine.start("two_step", ADMIN)
        visit = task_of(session, instance.id, "visit")
        if backend == "postgresql":
            results = _race(session_factory, [_claim_call(visit.id, AGENT), _claim_call(visit.id, OTHER_AGENT)])
        else:
            with session_factory() as s1, session_factory() as s2:
                calls = [_claim_call(visit.id, AGENT)(Engine(s1)), _claim_call(visit.id, OTHER_AGENT)(Engine(s2))]
                results = []
                for call in calls:
                    try:
                        results.append(("ok", call()))
                    except Exception as err:  # noqa: BLE001
                        results.append(("error", err))
        assert sorted(kind for kind, _ in results) == ["error", "ok"], results
        [winner] = [value for kind, value in results if kind == "ok"]
        [error] = [value for kind, value in results if kind == "error"]
        assert isinstance(error, (Conflict, Forbidden)), repr(error)
        session.expire_all()
        assert session.get(HumanTask, visit.id).assignee == winner
        claims = events(session, "task_claimed", task_id=visit.id)
        assert [e.actor for e in claims] == [winner]


def test_completion_racing_its_own_timer(engine, deploy, session, session_factory, frozen_clock, backend):
    """A visitor completes a visit at the moment a worker fires its overdue timer (found by the load
    test as a lock-order deadlock): one of them wins, the other gets Conflict or fires nothing, and the
    instance ends up either reviewed or escalated, never both."""
    deploy()
    rounds = ROUNDS if backend == "postgresql" else 3
    deadlocks_before = _deadlocks(session, backend)
    for _ in range(rounds):
        instance = engine.start("two_step", ADMIN)
        visit_id, instance_id = task_of(session, instance.id, "visit").id, instance.id
        frozen_clock.advance(days=3, seconds=1)

        def fire(engine):
            engine.workflow_data(instance_id)
            return engine.fire_due_timers

        results = _race(session_factory, [_complete_call(visit_id, AGENT), fire])
        errors = [value for kind, value in results if kind == "error"]
        assert all(isinstance(e, (Conflict, NotFound)) for e in errors), results
        session.expire_all()
        open_names = sorted(t.bpmn_id for t in session.query(HumanTask).filter_by(instance_id=instance_id))
        assert open_names in (["review"], ["escalate"]), (open_names, results)
        completed = len(events(session, "task_completed", task_id=visit_id))
        fired = len([e for e in events(session, "timer_fired") if e.instance_id == instance_id])
        assert completed + fired == 1, results
    # Both paths lock the instance before task rows, so PostgreSQL never has to break a deadlock.
    assert _deadlocks(session, backend) == deadlocks_before


def _deadlocks(session, backend) -> int:
    if backend != "postgresql":
        return 0
    seen = None
    for _ in range(30):  # other backends report their statistics within about a second
        session.rollback()
        session.execute(text("SELECT pg_stat_clear_snapshot()"))
        now = session.scalar(text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"))
        if now == seen:
            return now
        seen = now
        time.sleep(0.2)
    return seen
