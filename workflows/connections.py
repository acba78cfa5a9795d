"""Connections of their own for the statements that are a whole transaction, where they stay prepared.

On PostgreSQL a step that is its transaction goes as one statement in autocommit mode (statements.run_batch),
and a start first draws its id outside any transaction. Parsing and planning that statement -- four or five
WITH parts, some forty parameters -- costs the server about as long as running it; prepared, it is planned
once per connection (bench/engine_bench.py). psycopg, though, forgets every prepared statement at any ROLLBACK
(and sends DEALLOCATE ALL), and the pool's connections see one at the end of every read-only request. So these
statements run on connections of a copy of the engine's pool that run nothing else, in autocommit mode, so
that nothing rolls them back: their statements stay prepared for the connection's life.
"""
from __future__ import annotations

import os
import threading
import weakref
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, Engine, event


class PreparedConnections:
    """One engine's connections (see ``for_engine``); a statement runs prepared from its first use on each."""

    def __init__(self, bind: Engine):
        self.bind = weakref.ref(bind)  # the engine holds this object (its dispose listener), not the other way
        self.pid = os.getpid()
        # The engine's connection arguments, pool size and pool events. A connection handed back goes through the
        # pool's reset as any other: a ROLLBACK only if one was interrupted inside a transaction.
        self.pool = bind.pool.recreate()
        event.listen(self.pool, "connect", _autocommit_prepared)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection in autocommit mode, with the engine's events and logging."""
        connection = Connection(self.bind(), self.pool.connect())
        try:
            yield connection
        finally:
            connection.close()


def _autocommit_prepared(dbapi_connection, _record) -> None:
    dbapi_connection.autocommit = True
    dbapi_connection.prepare_threshold = 0


def prepared_connection(bind: Engine):
    """``with prepared_connection(bind) as connection:`` -- one of the engine's prepared connections, lent."""
    return for_engine(bind).connection()


# Keyed by id(engine), valued weakly: an engine's own listener keeps its PreparedConnections alive, so they go
# with the engine and never keep it.
_BY_ENGINE: weakref.WeakValueDictionary[int, PreparedConnections] = weakref.WeakValueDictionary()
_INHERITED: list[PreparedConnections] = []  # a forked parent's: closing or collecting them would end its sessions
_LOCK = threading.Lock()


def for_engine(bind: Engine) -> PreparedConnections:
    """This engine's prepared connections: made on first use, closed when the engine is disposed, made anew in a
    process forked after they were made."""
    connections = _BY_ENGINE.get(id(bind))
    if connections is not None and connections.bind() is bind and connections.pid == os.getpid():
        return connections
    with _LOCK:
        connections = _BY_ENGINE.get(id(bind))
        if connections is not None and connections.bind() is bind:
            if connections.pid == os.getpid():
                return connections
            _INHERITED.append(connections)
        connections = _BY_ENGINE[id(bind)] = PreparedConnections(bind)
        event.listen(bind, "engine_disposed", lambda _bind, made=connections: _disposed(made), once=True)
        return connections


def _disposed(connections: PreparedConnections) -> None:
    if connections.pid != os.getpid():
        return
    with _LOCK:
        bind = connections.bind()
        if bind is not None and _BY_ENGINE.get(id(bind)) is connections:
            del _BY_ENGINE[id(bind)]
    connections.pool.dispose()
