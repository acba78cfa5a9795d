"""Drafts: a half-filled task form saved without validation and resumed later."""
from __future__ import annotations

from sqlalchemy import delete, select, update

from workflows import clock
from workflows.actor import Actor
from workflows.errors import Conflict, InvalidInput, Problem
from workflows.localtime import iso

from ...extensions import db
from ...models.inbox import TaskDraft
from ..engine import get_engine
from .inbox import require_may_work


def get(task_id: str, username: str) -> TaskDraft | None:
    return db.session.scalar(select(TaskDraft).where(TaskDraft.task_id == task_id, TaskDraft.username == username))


def save(task_id: str, actor: Actor, data: dict, revision: int | None = None) -> TaskDraft:
    """Keep the values as they are (no schema check). ``revision`` is the draft revision the page was
    loaded with: a save from an older page (another tab) is refused instead of overwriting."""
    if not isinstance(data, dict):
        raise InvalidInput(Problem("a draft is an object of field values", field="data"))
    task = get_engine().task(task_id)
    require_may_work(task, actor)
    draft = get(task_id, actor.username)
    now = clock.now()
    if draft is None:
        if revision not in (None, 0):
            raise Conflict(f"the draft of task {task_id} was discarded meanwhile; reload the task")
        draft = TaskDraft(task_id=task_id, username=actor.username, data=data, revision=1, saved_at=now)
        db.session.add(draft)
    else:
        expected = draft.revision if revision is None else revision
        done = db.session.execute(
            update(TaskDraft).where(TaskDraft.id == draft.id, TaskDraft.revision == expected)
            .values(data=data, revision=expected + 1, saved_at=now).execution_options(synchronize_session=False))
        if done.rowcount != 1:
            db.session.rollback()
            raise Conflict(f"the draft of task {task_id} was saved elsewhere meanwhile; reload the task")
        db.session.expire(draft)
    db.session.commit()
    return get(task_id, actor.username)


def discard(task_id: str) -> None:
    """Drop every draft of a task (the caller commits, with the completion)."""
    db.session.execute(delete(TaskDraft).where(TaskDraft.task_id == task_id))


def to_dict(draft: TaskDraft | None) -> dict | None:
    if draft is None:
        return None
    return {"task_id": draft.task_id, "data": draft.data, "revision": draft.revision, "saved_at": iso(draft.saved_at)}
