"""The engine's hot path: completing a task of a cached workflow without reading its rows, the rows a
step mirrors from one pass over the workflow, and what stays true whichever path a step takes
(authorisation, optimistic locking, one error event, a caller's own writes, loaded ORM objects)."""
from __future__ import annotations

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.exc import IntegrityError

from tests.conftest import ADMIN, AGENT, SUPERVISOR, load_fixture
from tests.engine.diagrams import (Statements, called_visit, caller, count, events, open_tasks, parallel, scripted,
                                   snapshot, task_of)
from workflows.actor import Actor
from workflows.cache import CachedWorkflow, WorkflowCache
from workflows.engine import Engine, _open_rows
from workflows.errors import Conflict, Forbidden, InvalidForm, ScriptFailed
from workflows.models import EngineEvent, HumanTask, ProcessInstance

OTHER_AGENT = Actor("wang", frozenset({"Agent"}))
OWNER = Actor("owner", frozenset({"ProcessOwner"}))
FORMS = load_fixture("two_step")[1]


@pytest.fixture
def statements(engine_db):
    watcher = Statements(engine_db)
    yield watcher
    watcher.close()


def _open_ids(session_factory, instance_id: int) -> dict[str, str]:
    """bpmn_id -> task id of the open tasks, read on another session (this one stays out of a transaction)."""
    with session_factory() as other:
        return {t.bpmn_id: t.id for t in open_tasks(other, instance_id)}


def _deploy(engine, key: str, xml: bytes):
    return engine.deploy(key, xml, FORMS, OWNER)


def test_a_cached_workflow_completes_without_reading_rows(engine, deploy, session, session_factory, statements,
                                                         engine_db):
    deploy()
    instance = engine.start("two_step", ADMIN, {"household": "A-201"}, business_key="A-201")
    visit_id = _open_ids(session_factory, instance.id)["visit"]
    assert session.get_transaction() is None or not session.get_transaction()._connections  # nothing sent since start
    returned = statements.during(lambda: engine.complete(visit_id, AGENT, {"result": "unsatisfied"}))
    assert statements.reads() == [], statements.sent
    assert any("DELETE FROM WF_HUMAN_TASK" in s and "ASSIGNEE" in s for s in statements.sent)
    if engine_db.dialect.name == "postgresql":  # the step's writes are one statement, a transaction of its own
        [step] = statements.sent
        assert step.startswith("WITH S0 AS (UPDATE WF_PROCESS_INSTANCE") and "INSERT INTO WF_EVENT" in step
    assert returned.id == instance.id and returned.lock_version == 2
    state = snapshot(session_factory, instance.id)
    assert state["lock_version"] == 2 and [t[1] for t in state["tasks"]] == ["review"]
    [done] = events(session, "task_completed", task_id=visit_id)
    assert (done.actor, done.detail["bpmn_id"], done.detail["name"], done.detail["data"]) == (
        "li", "visit", "回访 Visit", {"result": "unsatisfied"})
    [created] = events(session, "task_created", task_id=task_of(session, instance.id, "review").id)
    assert created.detail["role"] == "Supervisor"


def test_a_start_is_one_read_and_one_write(engine, deploy, session, statements, backend):
    """On PostgreSQL: the new id and the latest version in one read outside a transaction, then one statement
    that is the whole transaction; on SQLite the id comes with the instance's INSERT."""
    deploy()
    engine.start("two_step", ADMIN)  # the first start loads the version (an ORM read)
    session.rollback()
    statements.during(lambda: engine.start("two_step", ADMIN, business_key="A-1"))
    if backend == "postgresql":
        read, write = statements.sent
        assert read.startswith("SELECT NEXTVAL('WF_PROCESS_INSTANCE_ID_SEQ')")
        assert write.startswith("WITH S0 AS (INSERT INTO WF_PROCESS_INSTANCE") and "INSERT INTO WF_EVENT" in write
    else:
        assert statements.sent[0].startswith("SELECT WF_PROCESS_VERSION.ID")
        assert statements.sent[1].startswith("INSERT INTO WF_PROCESS_INSTANCE") and "RETURNING" in statements.sent[1]


@pytest.mark.parametrize("valid", [True, False], ids=["written", "failing"])
def test_rows_a_script_adds_commit_with_the_step_or_not_at_all(session, session_factory, frozen_clock, valid):
    """A script's row (a notification) is an ORM object added during the step: the step's writes then go
    in the session's transaction with it, not as a transaction of their own -- a row that cannot be
    written undoes the step."""
    def note():
        session.add(EngineEvent(at=frozen_clock.now(), actor="script" if valid else None, kind="note", detail={}))

    engine = Engine(session, script_functions={"note": note})
    _deploy(engine, "scripted", scripted("note()"))
    instance = engine.start("scripted", ADMIN)
    visit_id = _open_ids(session_factory, instance.id)["visit"]
    before = snapshot(session_factory, instance.id)
    if valid:
        engine.complete(visit_id, AGENT, {"result": "satisfied"})
        assert snapshot(session_factory, instance.id)["lock_version"] == 2
    else:
        with pytest.raises(IntegrityError):
            engine.complete(visit_id, AGENT, {"result": "satisfied"})
        session.rollback()
        after = snapshot(session_factory, instance.id)
        assert {k: v for k, v in after.items() if k != "events"} == {k: v for k, v in before.items() if k != "events"}
    with session_factory() as check:
        assert count(check, EngineEvent, EngineEvent.kind == "note") == (1 if valid else 0)
        assert count(check, EngineEvent, EngineEvent.kind == "task_completed") == (1 if valid else 0)


def test_a_session_inside_a_transaction_reads_the_rows(engine, deploy, session, statements):
    deploy()
    instance = engine.start("two_step", ADMIN)
    visit = task_of(session, instance.id, "visit")  # the session now holds a transaction
    statements.during(lambda: engine.complete(visit.id, AGENT, {"result": "satisfied"}))
    assert any("FROM WF_HUMAN_TASK JOIN WF_PROCESS_INSTANCE" in s for s in statements.reads())


@pytest.mark.parametrize("flushed", [True, False], ids=["sent", "pending"])
def test_a_callers_own_writes_are_kept_when_the_cache_is_stale(engine, session, session_factory, flushed):
    """A caller's transaction is never rolled back to retry: here the cached workflow is stale (another
    engine completed the parallel task), the caller has written in the same transaction (sent, or still
    pending in the session), and both the completion and the caller's row commit."""
    _deploy(engine, "parallel", parallel())
    instance = engine.start("parallel", ADMIN)
    ids = _open_ids(session_factory, instance.id)
    with session_factory() as other_session:
        Engine(other_session).complete(ids["visit_a"], OTHER_AGENT, {"result": "satisfied"})
    started_at = instance.started_at
    session.commit()  # no transaction open: only the caller's row below can make one
    session.add(EngineEvent(at=started_at, actor="caller", kind="note", detail={}))
    if flushed:
        session.flush()
    engine.complete(ids["visit_b"], AGENT, {"result": "unsatisfied"})
    with session_factory() as check:
        assert count(check, EngineEvent, EngineEvent.kind == "note") == 1
        assert sorted(e.task_id for e in events(check, "task_completed")) == sorted([ids["visit_a"], ids["visit_b"]])
        assert sorted(_open_ids(session_factory, instance.id)) == ["review"]


def test_a_stale_cached_workflow_is_noticed_and_the_step_redone_on_the_rows(engine, session, session_factory,
                                                                            statements):
    """This engine cached the instance with both parallel tasks open; another process completed one of
    them. The guarded UPDATE finds the cached lock_version outdated; the step is redone on the stored
    state, so neither completion is lost."""
    _deploy(engine, "parallel", parallel())
    instance = engine.start("parallel", ADMIN)
    ids = _open_ids(session_factory, instance.id)
    with session_factory() as other_session:
        Engine(other_session).complete(ids["visit_a"], OTHER_AGENT, {"result": "satisfied"})
    statements.during(lambda: engine.complete(ids["visit_b"], AGENT, {"result": "unsatisfied"}))
    assert any(s.startswith("ROLLBACK") for s in statements.sent) or statements.reads()
    state = snapshot(session_factory, instance.id)
    assert state["lock_version"] == 3 and [t[1] for t in state["tasks"]] == ["review"]
    with session_factory() as check:
        done = events(check, "task_completed")
        assert sorted(e.task_id for e in done) == sorted([ids["visit_a"], ids["visit_b"]])
        assert count(check, EngineEvent, EngineEvent.kind == "error") == 0
    review = _open_ids(session_factory, instance.id)["review"]
    engine.complete(review, SUPERVISOR, {"qualified": True})
    assert snapshot(session_factory, instance.id)["status"] == "completed"


def test_a_task_claimed_by_someone_else_is_refused_on_the_cached_path(engine, deploy, session, session_factory):
    deploy()
    instance = engine.start("two_step", ADMIN)
    visit_id = _open_ids(session_factory, instance.id)["visit"]
    with session_factory() as other_session:
        Engine(other_session).claim(visit_id, OTHER_AGENT)  # the workflow (and this engine's cache) unchanged
    before = snapshot(session_factory, instance.id)
    with pytest.raises(Forbidden, match="claimed by wang"):
        engine.complete(visit_id, AGENT, {"result": "satisfied"})
    assert snapshot(session_factory, instance.id) == before
    with session_factory() as check:
        assert check.get(HumanTask, visit_id).assignee == "wang"
        assert count(check, EngineEvent, EngineEvent.kind == "task_completed") == 0
    session.rollback()
    engine.complete(visit_id, OTHER_AGENT, {"result": "satisfied"})
    assert sorted(_open_ids(session_factory, instance.id)) == ["review"]


def test_own_claim_completes_on_the_cached_path(engine, deploy, session, session_factory, statements):
    deploy()
    instance = engine.start("two_step", ADMIN)
    visit_id = _open_ids(session_factory, instance.id)["visit"]
    with session_factory() as other_session:
        Engine(other_session).claim(visit_id, AGENT)
    statements.during(lambda: engine.complete(visit_id, AGENT, {"result": "satisfied"}))
    assert statements.reads() == []
    assert sorted(_open_ids(session_factory, instance.id)) == ["review"]


def test_a_task_assigned_to_someone_without_its_role(engine, deploy, session, session_factory, statements):
    """The role check moves into the query only for actors who hold the task's role; anyone else may
    complete it only when it is assigned to them, which the row tells."""
    deploy()
    instance = engine.start("two_step", ADMIN)
    visit_id = _open_ids(session_factory, instance.id)["visit"]
    outsider = Actor("zhao", frozenset({"Supervisor"}))
    with pytest.raises(Forbidden, match="role Agent"):
        engine.complete(visit_id, outsider, {"result": "satisfied"})
    session.rollback()
    with session_factory() as other_session:
        Engine(other_session).reassign(visit_id, SUPERVISOR, "zhao", "covers the visit")
    session.rollback()
    statements.during(lambda: engine.complete(visit_id, outsider, {"result": "satisfied"}))
    # the task row is read (only it tells the assignee), the cached workflow is used as it is
    assert [s for s in statements.reads() if "WF_PROCESS_INSTANCE.STATE" in s] == []
    assert any("FROM WF_HUMAN_TASK JOIN WF_PROCESS_INSTANCE" in s for s in statements.reads())
    with session_factory() as check:
        [done] = events(check, "task_completed")
        assert done.actor == "zhao"


def test_invalid_form_data_on_the_cached_path_changes_nothing(engine, deploy, session, session_factory, statements):
    deploy()
    instance = engine.start("two_step", ADMIN)
    visit_id = _open_ids(session_factory, instance.id)["visit"]
    before = snapshot(session_factory, instance.id)
    with pytest.raises(InvalidForm) as err:
        engine.complete(visit_id, AGENT, {"result": "maybe"})
    assert [p.field for p in err.value.problems] == ["result"]
    assert snapshot(session_factory, instance.id) == before
    session.rollback()
    # the workflow went back to the cache unchanged: the corrected data completes without reading rows
    statements.during(lambda: engine.complete(visit_id, AGENT, {"result": "satisfied"}))
    assert statements.reads() == []
    assert sorted(_open_ids(session_factory, instance.id)) == ["review"]


def test_a_failing_script_on_the_cached_path_is_recorded_once(engine, session, session_factory):
    _deploy(engine, "scripted", scripted("x = 1 / 0"))
    instance = engine.start("scripted", ADMIN)
    visit_id = _open_ids(session_factory, instance.id)["visit"]
    before = snapshot(session_factory, instance.id)
    with pytest.raises(ScriptFailed, match="run_script"):
        engine.complete(visit_id, AGENT, {"result": "satisfied"})
    after = snapshot(session_factory, instance.id)
    assert {k: v for k, v in after.items() if k != "events"} == {k: v for k, v in before.items() if k != "events"}
    with session_factory() as check:
        [error] = events(check, "error")
        assert error.task_id == visit_id and error.detail["element_id"] == "run_script"
        assert count(check, EngineEvent, EngineEvent.kind == "task_completed") == 0


def test_two_engines_holding_the_same_cached_workflow(engine, deploy, session, session_factory, backend):
    """Both engines hold the workflow at the same lock_version (one cached it while reading); both
    complete the task from their cache: exactly one completion counts, the other gets Conflict."""
    deploy()
    instance = engine.start("two_step", ADMIN)
    visit_id = _open_ids(session_factory, instance.id)["visit"]
    with session_factory() as other_session:
        other = Engine(other_session)
        other.workflow_data(instance.id)  # caches the workflow at lock_version 1
        other_session.rollback()
        other.complete(visit_id, OTHER_AGENT, {"result": "satisfied"})
    with pytest.raises(Conflict, match="already completed by wang"):
        engine.complete(visit_id, AGENT, {"result": "unsatisfied"})
    state = snapshot(session_factory, instance.id)
    assert state["lock_version"] == 2 and [t[1] for t in state["tasks"]] == ["review"]
    with session_factory() as check:
        [done] = events(check, "task_completed")
        assert done.actor == "wang" and done.detail["data"] == {"result": "satisfied"}


@pytest.mark.parametrize("in_transaction", [False, True], ids=["cached path", "reading path"])
def test_an_instance_reloaded_during_the_step_is_expired_after_the_write(deploy, session_factory, frozen_clock,
                                                                         in_transaction):
    """The review's due date expression reads the instance through the session: between the queued
    UPDATE and its sending, that reload sees the old row. Once the writes are sent the object is expired
    again, so it shows the new lock_version (also where commit does not expire) and a later ORM flush of
    it passes the optimistic check."""
    with session_factory(expire_on_commit=False) as session:
        seen, target = [], []

        def peek():
            if target:
                seen.append(session.get(ProcessInstance, target[0]).lock_version)
            return None

        engine = Engine(session, script_functions={"peek": peek})
        engine.deploy("parallel", parallel(review_due="peek()"), FORMS, OWNER)
        instance = engine.start("parallel", ADMIN)
        ids = _open_ids(session_factory, instance.id)
        target.append(instance.id)
        loaded = session.get(ProcessInstance, instance.id)
        engine.complete(ids["visit_a"], AGENT, {"result": "satisfied"})
        assert loaded.lock_version == 2
        if not in_transaction:
            session.rollback()
        else:
            session.get(ProcessInstance, instance.id).status
        engine.complete(ids["visit_b"], AGENT, {"result": "satisfied"})
        assert seen == [2]  # the reload in the expression read the row before the step's UPDATE
        assert loaded.lock_version == 3
        loaded.end_reason = "note"
        session.commit()
    with session_factory() as check:
        row = check.get(ProcessInstance, instance.id)
        assert (row.lock_version, row.end_reason) == (4, "note")


def _tree_walk(workflow) -> set[str]:
    return {str(t.id) for t in workflow.get_tasks(state=TaskState.READY, manual=True)}


def test_one_pass_finds_the_tasks_the_tree_walk_finds(engine, session, session_factory):
    """_open_rows reads the ready user tasks from the task dicts of the workflow and its subprocesses;
    at every step of these diagrams (parallel tasks, a boundary timer, a call activity with a user task)
    it finds exactly what workflow.get_tasks(state=READY, manual=True) finds."""
    xml, forms = load_fixture("two_step")
    engine.deploy("two_step", xml, forms, OWNER)
    _deploy(engine, "parallel", parallel())
    _deploy(engine, "called_visit", called_visit())
    _deploy(engine, "caller", caller("called_visit"))
    answers = {"visit": {"result": "unsatisfied"}, "visit_a": {"result": "satisfied"},
               "visit_b": {"result": "satisfied"}, "sub_visit": {"result": "satisfied"},
               "review": {"qualified": True}}
    actors = {"Agent": AGENT, "Supervisor": SUPERVISOR, None: ADMIN}
    for key in ("two_step", "parallel", "caller"):
        instance = engine.start(key, ADMIN)
        steps = 0
        while True:
            data = engine.workflow_data(instance.id)  # caches the workflow
            assert data is not None
            cached = engine._workflows.take(instance.id, snapshot(session_factory, instance.id)["lock_version"])
            ready, _ = _open_rows(cached.workflow, engine.loaded_version(cached.version_id))
            assert set(ready) == _tree_walk(cached.workflow) == cached.tasks
            assert set(ready) == set(_open_ids(session_factory, instance.id).values())
            engine._workflows.put(instance.id, cached)
            session.rollback()
            if not ready:
                break
            task = next(iter(ready.values()))
            role = engine.loaded_version(cached.version_id).user_tasks[task.task_spec.bpmn_id].get("role")
            engine.complete(str(task.id), actors[role], answers[task.task_spec.bpmn_id])
            steps += 1
        assert snapshot(session_factory, instance.id)["status"] == "completed", key
        assert steps == {"two_step": 2, "parallel": 3, "caller": 1}[key]


def test_cache_index_follows_its_entries():
    cache = WorkflowCache(size=2)
    def entry(tasks, lock_version=1):
        return CachedWorkflow(lock_version, object(), frozenset(tasks), frozenset(), 1, None)

    cache.put(1, entry({"t1", "t2"}))
    cache.put(2, entry({"t3"}))
    instance_id, taken = cache.take_task("t2")
    assert instance_id == 1 and taken.tasks == {"t1", "t2"}
    assert cache.take_task("t1") is None  # taking the workflow removed all its tasks from the index
    cache.put(1, entry({"t4"}, lock_version=2))
    cache.put(3, entry({"t5"}))  # evicts instance 2, the least recently put
    assert cache.take_task("t3") is None and cache.take(2, 1) is None
    assert cache.take(1, 1) is None  # a stale lock_version is not handed out (and the entry is dropped)
    assert cache.take_task("t4") is None
    assert cache.take_task("t5")[0] == 3
    cache.put(4, entry({"t6"}))
    cache.put(4, entry({"t7"}, lock_version=2))  # replacing an entry drops the old task ids
    assert cache.take_task("t6") is None and cache.take_task("t7")[0] == 4
    nothing = WorkflowCache(size=0)
    nothing.put(1, entry({"t1"}))
    assert nothing.take_task("t1") is None and nothing.take(1, 1) is None
