"""Connections of their own for the statements that are a whole transaction, where they stay prepared.

On PostgreSQL a step that is its transaction goes as one statement in autocommit mode (statements.run_batch),
and a start first draws its id outside any transaction. Parsing and planning that statement -- four or five
WITH parts, some forty parameters -- costs the server about as long as running it; prepared, it is planned
once per connection (bench/engine_bench.py). psycopg, though, forgets every prepared statement at any ROLLBACK
(and sends DEALLOCATE ALL), and the pool's connections see one at the end of every read-only request. So these
statements run on connections taken from a copy of the engine's pool that run nothing else, in autocommit mode,
and are never rolled back: their statements stay prepared for the connection's life.

A connection is lent to one caller at a time and kept for the next; one that broke is dropped.
"""
from __future__ import annotations

import os
import threading
import weakref
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, Engine, event

_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE


class PreparedConnections:
    """One engine's connections (see ``for_engine``); a statement runs prepared from its first use on each."""

    def __init__(self, bind: Engine):
        self.bind = weakref.ref(bind)  # the engine holds this object (its dispose listener), not the other way
        self.pid = os.getpid()
        self._pool = bind.pool.recreate()  # the engine's connection arguments and pool events
        self._idle: list = []  # pooled DBAPI connections, checked out of self._pool
        self._lock = threading.Lock()
        self._closed = False
        # Collected with an engine nobody disposed: hand the idle ones back to the pool rather than to the garbage
        # collector (SQLAlchemy warns about checked-out connections it finds there). Not at exit: in a forked
        # child they would be the parent's.
        weakref.finalize(self, _check_in, self._idle).atexit = False

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection in autocommit mode, with the engine's events and logging."""
        with self._lock:
            pooled = self._idle.pop() if self._idle else None
        if pooled is None:
            pooled = self._pool.connect()
            pooled.dbapi_connection.autocommit = True
            pooled.dbapi_connection.prepare_threshold = 0
        connection = Connection(self.bind(), pooled)
        try:
            yield connection
        finally:
            self._give_back(connection, pooled)

    def _give_back(self, connection: Connection, pooled) -> None:
        # Invalidated by SQLAlchemy (the connection broke), or interrupted mid-statement: not for the next caller.
        if connection.invalidated or pooled.dbapi_connection.info.transaction_status != _IDLE:
            connection.invalidate()
            return
        with self._lock:
            if not self._closed:
                self._idle.append(pooled)
                return
        pooled.close()

    def close(self) -> None:
        """Close the idle connections (the engine was disposed); one lent out is closed when given back."""
        if os.getpid() != self.pid:
            return
        with self._lock:
            idle, self._closed = list(self._idle), True
            self._idle.clear()
        for pooled in idle:
            pooled.close()
        self._pool.dispose()


def _check_in(idle: list) -> None:
    for pooled in idle:
        pooled.close()


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
    if connections is None or connections.bind() is not bind or connections.pid != os.getpid():
        with _LOCK:
            connections = _BY_ENGINE.get(id(bind))
            if connections is not None and connections.bind() is bind and connections.pid != os.getpid():
                _INHERITED.append(connections)
                connections = None
            if connections is None or connections.bind() is not bind:
                connections = _BY_ENGINE[id(bind)] = PreparedConnections(bind)
                event.listen(bind, "engine_disposed", lambda _bind, made=connections: _disposed(made), once=True)
    return connections


def _disposed(connections: PreparedConnections) -> None:
    with _LOCK:
        bind = connections.bind()
        if bind is not None and _BY_ENGINE.get(id(bind)) is connections:
            del _BY_ENGINE[id(bind)]
    connections.close()
