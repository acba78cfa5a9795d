"""What a step writes, and the statements it writes with.

The statements of every step are built once and run on the DBAPI cursor of the session's connection
(see statements.py): the ORM's and the execution context's per-statement bookkeeping is skipped.
"""
from __future__ import annotations

from sqlalchemy import Sequence, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from .models import EngineEvent, HumanTask, ProcessInstance, ProcessModel, ProcessVersion, Timer
from .statements import Prebuilt, Step, delete_by_ids, multi_row_insert, numbered, run_batch

_instances, _tasks, _timers, _events = (ProcessInstance.__table__, HumanTask.__table__, Timer.__table__,
                                        EngineEvent.__table__)
# The columns each new row of a step gives (wf_event ids come from the database).
ROW_COLUMNS = {
    HumanTask: tuple(_tasks.c.keys()),
    Timer: tuple(_timers.c.keys()),
    EngineEvent: tuple(key for key in _events.c.keys() if key != "id"),
}
INSERT_ROWS = {model: multi_row_insert(model.__table__, columns) for model, columns in ROW_COLUMNS.items()}
# A new instance's row; its id given (drawn from the sequence on PostgreSQL) or None (SQLite assigns one).
INSERT_INSTANCE = Prebuilt(insert(_instances).values(
    {key: bindparam(key, type_=_instances.c[key].type) for key in (
        "id", "version_id", "business_key", "status", "state", "lock_version", "started_by", "started_at",
        "updated_at", "ended_at")}).returning(_instances.c.id))
INSTANCE_ROW = Prebuilt(select(_instances.c.id, _instances.c.version_id, _instances.c.lock_version,
                               _instances.c.business_key, _instances.c.status)
                        .where(_instances.c.id == bindparam("id")))
TASK_TO_COMPLETE = Prebuilt(
    select(_tasks.c.id, _tasks.c.bpmn_id, _tasks.c.name, _tasks.c.role, _tasks.c.assignee, _tasks.c.form_key,
           _instances.c.id.label("instance_id"), _instances.c.version_id, _instances.c.lock_version,
           _instances.c.business_key, _instances.c.status)
    .join_from(_tasks, _instances, _tasks.c.instance_id == _instances.c.id)
    .where(_tasks.c.id == bindparam("id")))
INSTANCE_STATE = Prebuilt(select(_instances.c.state, _instances.c.lock_version)
                          .where(_instances.c.id == bindparam("id")))
DELETE_TASKS, DELETE_TIMERS = delete_by_ids(_tasks), delete_by_ids(_timers)
# The completed task's row, if nobody else claimed it meanwhile: unclaimed or the actor's own (the actor
# holds the task's role), or assigned to the actor.
DELETE_CLAIMABLE_TASK = Prebuilt(delete(_tasks).where(
    _tasks.c.id == bindparam("id"), or_(_tasks.c.assignee.is_(None), _tasks.c.assignee == bindparam("user"))))
DELETE_ASSIGNED_TASK = Prebuilt(delete(_tasks).where(_tasks.c.id == bindparam("id"),
                                                     _tasks.c.assignee == bindparam("user")))
LATEST_VERSION_ID = Prebuilt(
    select(ProcessVersion.__table__.c.id).join_from(ProcessVersion.__table__, ProcessModel.__table__)
    .where(ProcessModel.__table__.c.key == bindparam("key"))
    .order_by(ProcessVersion.__table__.c.number.desc()).limit(1))
# Where the database has sequences: the new instance's id and the model's latest version, in one read.
NEW_INSTANCE = Prebuilt(select(Sequence(f"{_instances.name}_id_seq").next_value().label("id"),
                               LATEST_VERSION_ID.statement.scalar_subquery().label("version_id")))


def write_state_statement(columns: frozenset[str]) -> Prebuilt:
    """The guarded UPDATE of an instance's document, setting these columns besides state/lock_version/updated_at;
    the WHERE parameters are named apart from them."""
    statement = _WRITE_STATE.get(columns)
    if statement is None:
        names = ("state", "lock_version", "updated_at", *sorted(columns))
        statement = _WRITE_STATE[columns] = Prebuilt(
            update(_instances)
            .where(_instances.c.id == bindparam("_id"), _instances.c.lock_version == bindparam("_old"))
            .values({name: bindparam(name, type_=_instances.c[name].type) for name in names}))
    return statement


_WRITE_STATE: dict[frozenset[str], Prebuilt] = {}


class PendingWrites:
    """The writes of the running operation, sent together: the instance UPDATE and the DELETEs of
    finished task and timer rows (each with the rowcount it must have), then the new task, timer and
    event rows as one multi-row INSERT per table. On PostgreSQL they go in one round trip: one statement
    when they are the whole transaction, else a pipeline (see statements.run_batch); the server runs them in
    this order, so the instance row is locked before any task row."""

    ORDER = (HumanTask, Timer, EngineEvent)
    CHUNK = 100  # rows per INSERT: bounds the statements built per count and their parameters

    def __init__(self):
        self._statements: list[Step] = []
        self._rows: list[tuple[type, dict]] = []
        self.updated: set[int] = set()  # instances whose UPDATE was queued

    def add(self, model, **values) -> None:
        self._rows.append((model, values))

    def statement(self, step: Step) -> None:
        self._statements.append(step)

    def mark(self) -> tuple[int, int]:
        return len(self._statements), len(self._rows)

    def discard_after(self, mark: tuple[int, int]) -> None:
        del self._statements[mark[0]:]
        del self._rows[mark[1]:]

    def clear(self) -> None:
        self._statements.clear()
        self._rows.clear()
        self.updated.clear()

    def write(self, session: Session, mark: tuple[int, int] = (0, 0), commit: bool = False) -> None:
        """Send what was added after ``mark`` (everything by default); raises the first rowcount mismatch.
        ``commit``: the session's commit follows and has nothing else to send (see run_batch)."""
        steps = self._statements[mark[0]:]
        rows = self._rows[mark[1]:]
        self.discard_after(mark)
        for model in self.ORDER:
            of_model = [values for kind, values in rows if kind is model]
            columns = ROW_COLUMNS[model]
            for first in range(0, len(of_model), self.CHUNK):
                chunk = of_model[first:first + self.CHUNK]
                steps.append(Step(INSERT_ROWS[model][len(chunk)], numbered(chunk, columns)))
        if steps:
            run_batch(session.connection(), steps, commit)
