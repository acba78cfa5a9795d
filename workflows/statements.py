"""The engine's hot-path statements: SQLAlchemy Core, compiled once per dialect, run on the driver's cursor.

A step of the engine is five or six small statements. Through ``Connection.execute`` each of them
builds an execution context and a result object, which costs about as much client CPU as the
driver's own work (measured in bench/engine_bench.py). A ``Prebuilt`` statement keeps what
SQLAlchemy contributes that matters here -- the SQL for the dialect, parameter style, type
conversions (SQLite datetimes, JSON) -- and runs it on the DBAPI cursor of the session's
connection, inside the session's transaction. Driver errors come out as SQLAlchemy's exceptions
(``IntegrityError``, ``OperationalError`` ... with disconnects handled), cursor events and echo
work as they do for ``Connection.execute``.

Statements with a variable number of rows or ids are built per count (``per_count``), so every
executed SQL string is one SQLAlchemy compiled once.

A batch of a step goes out in one round trip on psycopg: pipelined inside an open transaction, or, when
the step is the whole transaction (``run_batch``'s ``commit``), as one statement that PostgreSQL runs as
a transaction of its own -- no BEGIN, no COMMIT, the row counts checked by the server -- on a connection
where it stays prepared (connections.py).
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Callable, NamedTuple

from sqlalchemy import Connection, Integer, bindparam, delete, func, insert, literal, literal_column, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.visitors import replacement_traverse

from . import connections

# What the server-side row count check, wf_expect_rows (models.py), raises.
EXPECT_ROWS_SQLSTATE = "HF409"


class _Compiled:
    """A statement's SQL for one dialect, with its parameter order and type conversions."""

    __slots__ = ("sql", "names", "positional", "converters", "defaults", "row_type", "row_converters")

    def __init__(self, statement: Executable, dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = compiled.positional
        self.names = tuple(compiled.positiontup if compiled.positional else compiled.bind_names.values())
        # Values written into the statement itself, e.g. a LIMIT.
        self.defaults = {name: bind.value for bind, name in compiled.bind_names.items() if not bind.required}
        self.converters = {}
        for bind, name in compiled.bind_names.items():
            converter = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if converter is not None:
                self.converters[name] = converter
        self.row_type = self.row_converters = None
        columns = list(statement.exported_columns)  # a SELECT's columns, or RETURNING's
        if columns:
            self.row_type = namedtuple("Row", [column.key for column in columns])
            self.row_converters = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                                   for column in columns]
            if not any(self.row_converters):
                self.row_converters = None

    def parameters(self, values: dict):
        converters = self.converters
        if self.defaults:
            values = {**self.defaults, **values}
        if self.positional:
            return tuple(converters[name](values[name]) if name in converters else values[name]
                         for name in self.names)
        return {name: converters[name](values[name]) if name in converters else values[name]
                for name in self.names}

    def row(self, raw):
        if raw is None:
            return None
        if self.row_converters is not None:
            raw = [convert(value) if convert else value for convert, value in zip(self.row_converters, raw)]
        return self.row_type(*raw)


class Prebuilt:
    """One Core statement, compiled on first use per dialect and run straight on the DBAPI cursor."""

    def __init__(self, statement: Executable):
        self.statement = statement
        self._compiled: dict[tuple, _Compiled] = {}
        self._last: tuple[Any, _Compiled] | None = None  # the dialect object last asked for, and its SQL

    def compiled(self, dialect) -> _Compiled:
        last = self._last
        if last is not None and last[0] is dialect:
            return last[1]
        key = (type(dialect), dialect.paramstyle, dialect.server_version_info)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _Compiled(self.statement, dialect)
        self._last = (dialect, compiled)
        return compiled

    def execute(self, connection: Connection, values: dict):
        """Run the statement; returns the DBAPI cursor (rowcount, fetchone, fetchall)."""
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            self.send(connection, cursor, values)
        except BaseException as err:
            self.raise_wrapped(connection, err, values, cursor)
        return cursor

    def send(self, connection: Connection, cursor, values: dict) -> None:
        """cursor.execute with cursor events and echo as Connection.execute has them; driver errors unwrapped."""
        compiled = self.compiled(connection.dialect)
        parameters = compiled.parameters(values)
        sql = compiled.sql
        events = connection._has_events or connection.engine._has_events
        if events:
            for listener in connection.dispatch.before_cursor_execute:
                sql, parameters = listener(connection, cursor, sql, parameters, None, False)
        if connection._echo:
            connection._log_info(sql)
            connection._log_info("[prebuilt] %r", parameters)
        cursor.execute(sql, parameters)
        if events:
            connection.dispatch.after_cursor_execute(connection, cursor, sql, parameters, None, False)

    def raise_wrapped(self, connection: Connection, err: BaseException, values: dict, cursor) -> None:
        """As Connection.execute does: a driver error becomes SQLAlchemy's (IntegrityError …), a disconnect
        invalidates the connection; anything else is re-raised as it is."""
        compiled = self.compiled(connection.dialect)
        connection._handle_dbapi_exception(err, compiled.sql, compiled.parameters(values), cursor, None)

    def rowcount(self, connection: Connection, values: dict) -> int:
        cursor = self.execute(connection, values)
        count = cursor.rowcount
        cursor.close()
        return count

    def first(self, connection: Connection, values: dict):
        """The first row as a named tuple (column keys as names), or None."""
        cursor = self.execute(connection, values)
        rows = cursor.fetchall()  # fetch all: SQLite finishes a RETURNING statement only then
        cursor.close()
        return self.compiled(connection.dialect).row(rows[0] if rows else None)


class Step(NamedTuple):
    """One statement of a batch; ``expect`` is the rowcount it must have, else ``mismatch()`` is raised."""
    statement: Prebuilt
    values: dict
    expect: int | None = None
    mismatch: Callable[[], Exception] | None = None


def run_batch(connection: Connection, steps: list[Step], commit: bool = False) -> None:
    """Run the steps in order and check their rowcounts; on psycopg in one round trip (pipeline mode).

    The server runs pipelined statements one after the other, exactly as if sent singly. The first
    step whose rowcount is not what it expects raises its ``mismatch()`` -- also when a later step
    failed, since that failure (e.g. a duplicate row) then follows from the same concurrent change.
    Either way the caller rolls the transaction back.

    ``commit``: the caller commits right after this and has sent nothing before. On psycopg the steps
    then go as one statement that is its own transaction (``_as_one_statement``): no BEGIN, no COMMIT,
    no pipeline, one round trip, and prepared (connections.py).
    """
    psycopg = connection.dialect.driver == "psycopg"
    if psycopg and commit and _begins_plainly(connection.connection.dbapi_connection):
        _run_as_one_statement(connection, steps)
        return
    if not psycopg or len(steps) < 2:
        for step in steps:
            cursor = step.statement.execute(connection, step.values)
            count = cursor.rowcount
            cursor.close()
            if step.expect is not None and count != step.expect:
                raise step.mismatch()
        return
    dbapi_connection = connection.connection.dbapi_connection
    cursors = []
    failure = None
    try:
        with dbapi_connection.pipeline():
            for step in steps:
                cursor = dbapi_connection.cursor()
                cursors.append(cursor)
                step.statement.send(connection, cursor, step.values)
    except connection.dialect.loaded_dbapi.Error as err:  # raised while sending or when the pipeline syncs
        failure = err
    for step, cursor in zip(steps, cursors):
        if cursor.pgresult is None:  # the statement that failed (the server skipped the ones after it)
            step.statement.raise_wrapped(connection, failure, step.values, cursor)
        if step.expect is not None and cursor.rowcount != step.expect:
            raise step.mismatch()
        cursor.close()
    if failure is not None:  # not tied to one statement (e.g. the connection broke while syncing)
        connection._handle_dbapi_exception(failure, None, None, None, None)


_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: no transaction open on the server


def _begins_plainly(dbapi_connection) -> bool:
    """No transaction open on the server yet, and the next one would start with a plain BEGIN."""
    return (dbapi_connection.info.transaction_status == _IDLE and not dbapi_connection.autocommit
            and dbapi_connection.isolation_level is None and dbapi_connection.read_only is None
            and dbapi_connection.deferrable is None)


def _run_as_one_statement(connection: Connection, steps: list[Step]) -> None:
    """The steps as one statement, on a prepared connection (connections.py): PostgreSQL makes it a transaction of
    its own."""
    statement = _as_one_statement(steps)
    values = {}
    for number, step in enumerate(steps):
        prefix = f"s{number}_"
        values.update({prefix + name: value for name, value in step.values.items()})
        if step.expect is not None:
            values[prefix + "expected_rows"] = step.expect
    with connections.prepared_connection(connection.engine) as own:
        cursor = own.connection.dbapi_connection.cursor()
        try:
            statement.send(own, cursor, values)
        except own.dialect.loaded_dbapi.Error as err:
            if err.sqlstate == EXPECT_ROWS_SQLSTATE:  # DETAIL: "statement <n>"
                raise steps[int(err.diag.message_detail.rsplit(" ", 1)[1])].mismatch() from None
            statement.raise_wrapped(own, err, values, cursor)
        finally:
            cursor.close()


def first_outside_transaction(connection: Connection, statement: Prebuilt, values: dict):
    """``statement.first()`` for a read that needs no transaction around it (e.g. drawing from a sequence). On
    psycopg with no transaction open yet it runs on a prepared connection (connections.py), so none is opened: the
    writes that follow may still go as one statement (``run_batch``'s ``commit``). Nothing is written, so a
    connection found broken is replaced once."""
    if connection.dialect.driver != "psycopg" or not _begins_plainly(connection.connection.dbapi_connection):
        return statement.first(connection, values)
    for attempt in (1, 2):
        try:
            with connections.prepared_connection(connection.engine) as own:
                return statement.first(own, values)
        except DBAPIError as err:
            if attempt == 2 or not err.connection_invalidated:
                raise


_ONE_STATEMENT: dict[tuple, Prebuilt] = {}
_ONE_STATEMENT_LIMIT = 512


def _as_one_statement(steps: list[Step]) -> Prebuilt:
    """``WITH s0 AS (UPDATE … RETURNING 1), s1 AS (DELETE …), s2 AS (INSERT …) SELECT wf_expect_rows(…)``:
    each step a data-modifying WITH (parameters prefixed ``s<n>_``), the row counts checked by the
    SELECT -- a mismatch raises there and nothing of the statement stays. The checked steps run first,
    in order, as the SELECT reads them; the INSERTs after it, in order (PostgreSQL runs WITH parts not
    read by the query when the query is done). All parts see one snapshot, so a batch must not change a
    row twice -- an engine step never does (its rows are disjoint). Built once per sequence of statements."""
    key = tuple((step.statement, step.expect is not None) for step in steps)
    combined = _ONE_STATEMENT.get(key)
    if combined is not None:
        return combined
    parts, checks = [], []
    for number, step in enumerate(steps):
        prefix = f"s{number}_"
        statement = replacement_traverse(step.statement.statement, {}, lambda element, prefix=prefix: bindparam(
            prefix + element.key, element.value, type_=element.type, required=element.required)
            if isinstance(element, BindParameter) else None)
        if step.expect is not None:
            statement = statement.returning(literal_column("1"))
        part = statement.cte(f"s{number}")
        parts.append(part)
        if step.expect is not None:
            checks.append(func.wf_expect_rows(
                select(func.count()).select_from(part).scalar_subquery(),
                bindparam(prefix + "expected_rows", type_=Integer), literal(step.statement.statement.table.name),
                literal(number)).label(f"checked_{number}"))
    if len(_ONE_STATEMENT) >= _ONE_STATEMENT_LIMIT:  # diagrams with many shapes of steps: start over
        _ONE_STATEMENT.clear()
    combined = _ONE_STATEMENT[key] = Prebuilt(select(*checks or [literal(1).label("checked")]).add_cte(*parts))
    return combined


class per_count:
    """Prebuilt statements for 1, 2, 3 … rows or ids, each built when first needed."""

    def __init__(self, build: Callable[[int], Executable]):
        self._build = build
        self._statements: dict[int, Prebuilt] = {}

    def __getitem__(self, count: int) -> Prebuilt:
        statement = self._statements.get(count)
        if statement is None:
            statement = self._statements[count] = Prebuilt(self._build(count))
        return statement


def multi_row_insert(table, columns: tuple[str, ...]) -> per_count:
    """INSERT of n rows in one statement; parameters are named ``<column>_<row>``."""
    return per_count(lambda n: insert(table).inline().values(
        [{column: bindparam(f"{column}_{i}", type_=table.c[column].type) for column in columns} for i in range(n)]))


def delete_by_ids(table) -> per_count:
    """DELETE of n rows by primary key; parameters are named ``id_<i>``."""
    return per_count(lambda n: delete(table).where(table.c.id.in_(
        [bindparam(f"id_{i}", type_=table.c.id.type) for i in range(n)])))


def numbered(rows: list[dict], columns: tuple[str, ...]) -> dict[str, Any]:
    """Parameters of a multi_row_insert for these rows (absent columns are NULL)."""
    return {f"{column}_{i}": row.get(column) for i, row in enumerate(rows) for column in columns}


def numbered_ids(ids) -> dict[str, Any]:
    return {f"id_{i}": value for i, value in enumerate(ids)}
