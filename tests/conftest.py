"""Shared fixtures. Every database test runs twice: on SQLite and on PostgreSQL.

PostgreSQL: a fresh database per test session on $HUIFANG_TEST_PG (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres), dropped at the end.
Set HUIFANG_TEST_BACKENDS=sqlite to run only one backend while developing.
"""
from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from workflows import clock
from workflows.actor import Actor
from workflows.engine import Engine
from workflows.models import Base

FIXTURES = Path(__file__).parent / "fixtures"
PG_ADMIN_URL = os.environ.get("HUIFANG_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BACKENDS = [b for b in os.environ.get("HUIFANG_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


def _create_pg_database() -> str:
    name = f"huifang_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    """A fresh, empty database URL for the session, one per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'huifang.db'}"
    else:
        url = _create_pg_database()
        yield url
        _drop_pg_database(url)


@pytest.fixture(scope="session")
def backend(database_url) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


# ---------------------------------------------------------------- engine only (no Flask)

@pytest.fixture(scope="session")
def engine_db(database_url):
    """A SQLAlchemy engine on the engine's own tables (a separate database from the app's)."""
    url = database_url.replace("huifang.db", "engine.db") if database_url.startswith("sqlite") else None
    if url is None:
        url = _create_pg_database()
    db_engine = sa.create_engine(url)
    Base.metadata.create_all(db_engine)
    yield db_engine
    db_engine.dispose()
    if url.startswith("postgresql"):
        _drop_pg_database(url)


def _truncate(connection_or_engine, metadata) -> None:
    with connection_or_engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def session_factory(engine_db):
    _truncate(engine_db, Base.metadata)
    return sessionmaker(engine_db, expire_on_commit=True)


@pytest.fixture
def session(session_factory):
    s = session_factory()
    yield s
    s.close()


@pytest.fixture
def frozen_clock():
    frozen = clock.FrozenClock(datetime(2024, 3, 4, 1, 0, tzinfo=timezone.utc))
    with clock.using(frozen):
        yield frozen


@pytest.fixture
def engine(session, frozen_clock):
    return Engine(session)


def load_fixture(name: str) -> tuple[bytes, dict]:
    """A fixture diagram tests/fixtures/<name>.bpmn and every *.schema.json beside it."""
    forms = {p.name: json.loads(p.read_text()) for p in FIXTURES.glob("*.schema.json")}
    return (FIXTURES / f"{name}.bpmn").read_bytes(), forms


@pytest.fixture
def deploy(engine):
    def _deploy(name: str = "two_step", key: str | None = None):
        xml, forms = load_fixture(name)
        return engine.deploy(key or name, xml, forms, Actor("owner", frozenset({"ProcessOwner"})))
    return _deploy


AGENT = Actor("li", frozenset({"Agent"}))
SUPERVISOR = Actor("zhang", frozenset({"Supervisor"}))
ADMIN = Actor("admin", frozenset({"Admin"}))
