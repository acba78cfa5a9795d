"""workflows/connections.py: on PostgreSQL a step that is its whole transaction runs prepared, on a connection of
its own that the session's rollbacks (every read-only request ends with one) leave prepared; a connection that
broke is replaced without the caller noticing, and disposing of the engine closes them."""
from __future__ import annotations

import gc
import time
import weakref

import pytest
import sqlalchemy as sa
from sqlalchemy import select, text
from sqlalchemy.orm import sessionmaker

from tests.conftest import ADMIN, AGENT, _create_pg_database, _drop_pg_database, _truncate, load_fixture
from tests.engine.diagrams import events
from workflows import connections
from workflows.actor import Actor
from workflows.engine import Engine
from workflows.models import Base, HumanTask, ProcessInstance

OWNER = Actor("owner", frozenset({"ProcessOwner"}))


@pytest.fixture(scope="module")
def pg_db():
    """A PostgreSQL database of its own: prepared statements are PostgreSQL's."""
    url = _create_pg_database()
    db = sa.create_engine(url)
    Base.metadata.create_all(db)
    yield db
    db.dispose()
    _drop_pg_database(url)


@pytest.fixture
def pg(pg_db, frozen_clock):
    _truncate(pg_db, Base.metadata)
    session = sessionmaker(pg_db)()
    engine = Engine(session)
    version = engine.deploy("two_step", *load_fixture("two_step"), OWNER)
    engine.loaded_version(version.id)  # else the first start reads it, and its writes join that transaction
    session.rollback()
    yield engine, session
    session.close()


def _visit_of(session, instance_id: int) -> str:
    """The open visit task's id, read as a read-only request reads: its ROLLBACK makes psycopg forget whatever it
    prepared on the session's connection."""
    task_id = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id))
    session.rollback()
    return task_id


def _own_connection(db) -> tuple[int, dict[str, int]]:
    """The engine's prepared connection as PostgreSQL sees it: its backend pid, and how often each prepared
    statement ran (the id draw, the start, the step)."""
    kinds = {"SELECT nextval": "draw", "WITH s0 AS \n(INSERT INTO wf_process_instance": "start",
             "WITH s0 AS \n(UPDATE wf_process_instance": "step"}
    with connections.prepared_connection(db) as own:
        driver = own.connection.dbapi_connection
        rows = driver.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements").fetchall()
        runs = {kind: n for statement, n in rows for prefix, kind in kinds.items() if statement.startswith(prefix)}
        return driver.info.backend_pid, runs


def _terminate(db, pid: int) -> None:
    with db.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.commit()
    _wait_gone(db, pid)


def _wait_gone(db, pid: int) -> None:
    with db.connect() as conn:
        for _ in range(100):
            conn.commit()  # a transaction sees one snapshot of pg_stat_activity
            if not conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}):
                return
            time.sleep(0.05)
    raise AssertionError(f"backend {pid} still there")


def test_steps_run_prepared_across_the_sessions_rollbacks(pg, pg_db):
    engine, session = pg
    for _ in range(3):
        instance_id = engine.start("two_step", ADMIN, business_key="A-201").id
        engine.complete(_visit_of(session, instance_id), AGENT, {"result": "satisfied"})
    _, runs = _own_connection(pg_db)
    assert runs == {"draw": 3, "start": 3, "step": 3}
    assert [i.lock_version for i in session.scalars(select(ProcessInstance))] == [2, 2, 2]


def test_a_broken_prepared_connection_is_replaced(pg, pg_db):
    """The server ended it (a restart, an administrator): a start draws its id again on a new one; a step of a
    cached workflow goes the way that reads the rows. Each exactly once."""
    engine, session = pg
    first = engine.start("two_step", ADMIN).id
    pid, _ = _own_connection(pg_db)
    _terminate(pg_db, pid)
    second = engine.start("two_step", ADMIN).id
    new_pid, runs = _own_connection(pg_db)
    assert new_pid != pid and runs == {"draw": 1, "start": 1}

    _terminate(pg_db, new_pid)
    visit_id = _visit_of(session, first)
    engine.complete(visit_id, AGENT, {"result": "satisfied"})
    assert len(events(session, "task_completed", task_id=visit_id)) == 1
    assert sorted(session.scalars(select(ProcessInstance.id))) == [first, second]
    assert session.get(ProcessInstance, first).lock_version == 2


def test_a_connection_handed_back_inside_a_transaction_is_rolled_back_first(pg, pg_db):
    """As if interrupted before its statement finished: the pool's reset ends the transaction, and the steps after
    it still run (prepared anew)."""
    engine, session = pg
    with connections.prepared_connection(pg_db) as own:
        own.connection.dbapi_connection.execute("BEGIN")
    with connections.prepared_connection(pg_db) as own:
        assert own.connection.dbapi_connection.info.transaction_status == 0  # IDLE
    instance_id = engine.start("two_step", ADMIN).id
    engine.complete(_visit_of(session, instance_id), AGENT, {"result": "satisfied"})
    assert _own_connection(pg_db)[1] == {"draw": 1, "start": 1, "step": 1}


def test_disposing_of_the_engine_closes_them(pg_db):
    def open_ones() -> int:
        with pg_db.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND pid <> pg_backend_pid()"))

    pid, _ = _own_connection(pg_db)
    assert open_ones() >= 1
    pg_db.dispose()
    for _ in range(50):  # a closed connection's backend leaves pg_stat_activity a moment later
        if open_ones() == 0:
            break
        time.sleep(0.05)
    assert open_ones() == 0
    assert _own_connection(pg_db)[0] != pid  # made anew on next use


def test_an_engine_nobody_disposed_goes_with_its_connections(pg_db):
    db = sa.create_engine(pg_db.url)
    pid, _ = _own_connection(db)
    engine_ref = weakref.ref(db)
    del db
    gc.collect()
    assert engine_ref() is None
    _wait_gone(pg_db, pid)


def test_a_forked_process_makes_its_own(pg_db, monkeypatch):
    _own_connection(pg_db)
    parents = connections.for_engine(pg_db)
    monkeypatch.setattr(connections.os, "getpid", lambda: parents.pid + 1)
    _own_connection(pg_db)
    childs = connections.for_engine(pg_db)
    assert childs is not parents and parents in connections._INHERITED
    pg_db.dispose()  # the child's are closed; the parent's are left alone
    assert (childs.pool.checkedin(), parents.pool.checkedin()) == (0, 1)
    monkeypatch.undo()
    connections._INHERITED.remove(parents)
    parents.pool.dispose()


def test_sqlite_has_none(engine, deploy, session, backend, engine_db):
    """Only psycopg's one-statement steps use them."""
    deploy()
    instance_id = engine.start("two_step", ADMIN).id
    engine.complete(_visit_of(session, instance_id), AGENT, {"result": "satisfied"})
    assert (connections._BY_ENGINE.get(id(engine_db)) is None) == (backend == "sqlite")
