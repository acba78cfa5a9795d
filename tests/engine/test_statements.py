"""workflows/statements.py: prebuilt statements on the driver's cursor, a batch in one round trip on
psycopg, row count checks in order, and driver errors as SQLAlchemy's."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tests.conftest import ADMIN
from tests.engine.diagrams import Statements
from workflows.models import EngineEvent, HumanTask, Timer
from workflows.statements import Step, numbered, numbered_ids, run_batch
from workflows.writes import DELETE_TASKS, DELETE_TIMERS, INSERT_ROWS, ROW_COLUMNS

NOW = datetime(2024, 3, 4, 1, 0, tzinfo=timezone.utc)


class Mismatch(Exception):
    pass


INSTANCE = {}


def _event(kind: str, task_id: str | None = None) -> dict:
    return dict(at=NOW, actor="system", kind=kind, instance_id=INSTANCE.get("id"), task_id=task_id, version_id=None,
                detail={"名": "值", "n": 1})


def _task(task_id: str) -> dict:
    return dict(id=task_id, instance_id=INSTANCE.get("id", 0), bpmn_id="visit", name="回访 Visit", lane="Agent",
                role="Agent", assignee=None, form_key="visit.schema.json", due_at=NOW, business_key="A-1",
                process_key="p", version_number=1, created_at=NOW, claimed_at=None)


def _insert(model, rows: list[dict]) -> Step:
    return Step(INSERT_ROWS[model][len(rows)], numbered(rows, ROW_COLUMNS[model]))


def _delete_tasks(ids: list[str], expect: int | None = None) -> Step:
    return Step(DELETE_TASKS[len(ids)], numbered_ids(ids), expect=expect,
                mismatch=lambda: Mismatch(f"expected {expect} of {ids}"))


@pytest.fixture
def connection(engine, deploy, session_factory):
    """A connection whose transaction is rolled back at the end; the rows written belong to one
    instance of two_step whose own rows were removed."""
    deploy()
    INSTANCE["id"] = engine.start("two_step", ADMIN).id
    with session_factory() as session:
        conn = session.connection()
        for model in (HumanTask, Timer, EngineEvent):
            conn.execute(sa.delete(model))
        yield conn
        session.rollback()
    INSTANCE.clear()


def _kinds(connection) -> list[str]:
    return list(connection.execute(select(EngineEvent.kind).order_by(EngineEvent.id)).scalars())


def _verbs_sent(engine_db, call) -> list[str]:
    """The first word of each statement ``call`` sends."""
    watcher = Statements(engine_db)
    try:
        watcher.during(call)
    finally:
        watcher.close()
    return [s.split()[0] for s in watcher.sent]


def test_a_batch_writes_in_order_and_checks_row_counts(connection, engine_db, backend):
    run_batch(connection, [_insert(HumanTask, [_task("t1"), _task("t2")]), _insert(EngineEvent, [_event("created")])])
    assert _verbs_sent(engine_db, lambda: run_batch(connection, [
        _delete_tasks(["t1", "t2"], expect=2),
        _insert(HumanTask, [_task("t3")]),
        Step(DELETE_TIMERS[1], numbered_ids(["none"])),
        _insert(EngineEvent, [_event("completed", "t1"), _event("completed", "t2")]),
    ])) == ["DELETE", "INSERT", "DELETE", "INSERT"]
    assert sorted(connection.execute(select(HumanTask.id)).scalars()) == ["t3"]
    assert _kinds(connection) == ["created", "completed", "completed"]
    detail = connection.execute(select(EngineEvent.detail).order_by(EngineEvent.id.desc()).limit(1)).scalar()
    assert detail == {"名": "值", "n": 1}


def test_a_row_count_mismatch_raises_the_steps_own_error(connection):
    run_batch(connection, [_insert(HumanTask, [_task("t1")])])
    with pytest.raises(Mismatch, match=r"expected 1 of \['gone'\]"):
        run_batch(connection, [_insert(EngineEvent, [_event("x")]), _delete_tasks(["gone"], expect=1),
                               _delete_tasks(["t1"], expect=1)])


def test_the_first_mismatch_wins(connection):
    """Two checks fail: the earlier step's mismatch is the one reported."""
    first = Step(DELETE_TASKS[1], numbered_ids(["a"]), expect=1, mismatch=lambda: Mismatch("first"))
    second = Step(DELETE_TASKS[1], numbered_ids(["b"]), expect=1, mismatch=lambda: Mismatch("second"))
    with pytest.raises(Mismatch, match="first"):
        run_batch(connection, [first, _insert(EngineEvent, [_event("x")]), second])


def test_a_failing_statement_comes_out_as_sqlalchemys_error(connection, session_factory):
    run_batch(connection, [_insert(HumanTask, [_task("t1")])])
    with pytest.raises(IntegrityError):
        run_batch(connection, [_insert(EngineEvent, [_event("x")]), _insert(HumanTask, [_task("t1")])])


# ---------------------------------------------------------------- a batch with its commit (run_batch(commit=True))

@pytest.fixture
def fresh(engine, deploy, session_factory):
    """A session that has sent nothing yet, and one committed instance of two_step without rows of its own."""
    deploy()
    INSTANCE["id"] = engine.start("two_step", ADMIN).id
    with session_factory() as setup:
        for model in (HumanTask, Timer, EngineEvent):
            setup.execute(sa.delete(model))
        setup.commit()
    with session_factory() as session:
        yield session
    INSTANCE.clear()


def _committed(session_factory) -> tuple[list[str], list[str]]:
    with session_factory() as other:
        return sorted(other.scalars(select(HumanTask.id))), sorted(other.scalars(select(EngineEvent.kind)))


def _driver(session):
    return session.connection().connection.dbapi_connection


def test_a_batch_sent_with_its_commit_is_one_statement_on_postgresql(fresh, session_factory, engine_db, backend):
    watcher = Statements(engine_db)
    try:
        watcher.during(lambda: run_batch(fresh.connection(), [
            _insert(HumanTask, [_task("t1"), _task("t2")]), _insert(EngineEvent, [_event("created")])], commit=True))
        if backend == "postgresql":  # its own transaction: committed before the session's commit, in one statement
            assert _committed(session_factory) == (["t1", "t2"], ["created"])
            [statement] = watcher.sent
            assert statement.startswith("WITH S0 AS (INSERT INTO WF_HUMAN_TASK")
            assert not _driver(fresh).autocommit
        fresh.commit()
        assert _committed(session_factory) == (["t1", "t2"], ["created"])
        watcher.during(lambda: run_batch(fresh.connection(), [
            _delete_tasks(["t1", "t2"], expect=2), _insert(HumanTask, [_task("t3")]),
            _insert(EngineEvent, [_event("completed", "t1"), _event("completed", "t2")])], commit=True))
        fresh.commit()
    finally:
        watcher.close()
    assert len(watcher.sent) == (1 if backend == "postgresql" else 3)
    assert _committed(session_factory) == (["t3"], ["completed", "completed", "created"])


def test_a_row_count_mismatch_in_one_statement_writes_nothing(fresh, session_factory, backend):
    """The server checks the counts (wf_expect_rows): the first failed check is reported as its step's
    mismatch, and nothing of the statement stays; the connection goes on in its usual mode."""
    run_batch(fresh.connection(), [_insert(HumanTask, [_task("t1")])], commit=True)
    fresh.commit()
    first = Step(DELETE_TASKS[1], numbered_ids(["gone"]), expect=1, mismatch=lambda: Mismatch("first"))
    second = Step(DELETE_TASKS[2], numbered_ids(["t1", "t9"]), expect=2, mismatch=lambda: Mismatch("second"))
    with pytest.raises(Mismatch, match="second"):
        run_batch(fresh.connection(), [_insert(EngineEvent, [_event("x")]), second,
                                       _insert(HumanTask, [_task("t2")])], commit=True)
    fresh.rollback()
    with pytest.raises(Mismatch, match="first"):
        run_batch(fresh.connection(), [_insert(EngineEvent, [_event("x")]), first, second], commit=True)
    fresh.rollback()
    assert _committed(session_factory) == (["t1"], [])
    if backend == "postgresql":
        assert not _driver(fresh).autocommit
    run_batch(fresh.connection(), [_delete_tasks(["t1"], expect=1), _insert(EngineEvent, [_event("y")])], commit=True)
    fresh.commit()
    assert _committed(session_factory) == ([], ["y"])


def test_a_failing_statement_sent_with_its_commit_is_sqlalchemys_error(fresh, session_factory):
    run_batch(fresh.connection(), [_insert(HumanTask, [_task("t1")])], commit=True)
    fresh.commit()
    with pytest.raises(IntegrityError):
        run_batch(fresh.connection(), [_insert(EngineEvent, [_event("x")]), _insert(HumanTask, [_task("t1")])],
                  commit=True)
    fresh.rollback()
    assert _committed(session_factory) == (["t1"], [])


def test_with_a_transaction_open_a_batch_and_its_commit_stay_in_it(fresh, session_factory, engine_db):
    """Something was sent already: the batch joins that transaction, which the caller commits or rolls back."""
    fresh.execute(select(HumanTask.id)).all()
    assert _verbs_sent(engine_db, lambda: run_batch(fresh.connection(), [
        _insert(HumanTask, [_task("t1")]), _insert(EngineEvent, [_event("created")])], commit=True)
    ) == ["INSERT", "INSERT"]
    assert _committed(session_factory) == ([], [])
    fresh.rollback()
    assert _committed(session_factory) == ([], [])


def test_a_read_outside_a_transaction_leaves_none_open(fresh, backend):
    from workflows.statements import first_outside_transaction
    from workflows.writes import LATEST_VERSION_ID, NEW_INSTANCE

    connection = fresh.connection()
    statement = NEW_INSTANCE if backend == "postgresql" else LATEST_VERSION_ID
    row = first_outside_transaction(connection, statement, {"key": "two_step"})
    assert row.version_id if backend == "postgresql" else row.id
    if backend == "postgresql":
        assert row.id > INSTANCE["id"]  # drawn from the instance sequence
        driver = _driver(fresh)
        assert driver.info.transaction_status == 0 and not driver.autocommit  # IDLE: nothing left open
        fresh.execute(select(HumanTask.id)).all()
        first_outside_transaction(connection, statement, {"key": "two_step"})
        assert driver.info.transaction_status != 0  # inside the open transaction


def test_a_connection_with_its_own_isolation_level_keeps_its_transaction(fresh, session_factory, engine_db):
    """One statement in autocommit mode would run at the server's default level: a connection asked for another
    one keeps BEGIN (with that level) and the caller's COMMIT."""
    connection = fresh.connection(execution_options={"isolation_level": "SERIALIZABLE"})
    assert _verbs_sent(engine_db, lambda: run_batch(connection, [
        _insert(HumanTask, [_task("t1")]), _insert(EngineEvent, [_event("created")])], commit=True)
    ) == ["INSERT", "INSERT"]
    assert _committed(session_factory) == ([], [])
    fresh.commit()
    assert _committed(session_factory) == (["t1"], ["created"])
