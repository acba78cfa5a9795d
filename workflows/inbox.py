"""The inbox: the open tasks an actor sees, read from the task rows (never from workflow documents)."""
from __future__ import annotations

from sqlalchemy import and_, false, func, select, union_all
from sqlalchemy.orm import Session

from .actor import Actor
from .models import HumanTask


def open_task_branches(actor: Actor, scope: str, process: str | None):
    """One condition per index path: my assigned tasks, and each of my roles' unclaimed tasks.

    An OR across them makes PostgreSQL scan and sort every visible row; separate branches each read
    the first rows of an index in due order (see bench/inbox_bench.py)."""
    branches = []
    if scope in ("mine", "all"):
        branches.append(HumanTask.assignee == actor.username)
    if scope in ("roles", "all"):
        branches += [and_(HumanTask.assignee.is_(None), HumanTask.role == role) for role in sorted(actor.roles)]
    if process:
        branches = [and_(branch, HumanTask.process_key == process) for branch in branches]
    return branches


def _inbox_order(columns):
    return (columns.due_at.asc().nulls_last(), columns.created_at, columns.id)


def open_tasks_query(actor: Actor, scope: str = "all", limit: int = 50, offset: int = 0, process: str | None = None):
    """One page of the open tasks an actor sees: 'mine' (assigned to me), 'roles' (unclaimed, for my
    roles) or 'all', soonest due first."""
    branches = open_task_branches(actor, scope, process)
    if not branches:
        return select(HumanTask).where(false())
    window = limit + offset
    parts = [select(HumanTask.id, HumanTask.due_at, HumanTask.created_at).where(branch)
             .order_by(*_inbox_order(HumanTask)).limit(window).subquery() for branch in branches]
    candidates = union_all(*[select(part.c.id, part.c.due_at, part.c.created_at) for part in parts]).subquery()
    page = select(candidates.c.id).order_by(*_inbox_order(candidates.c)).limit(limit).offset(offset).subquery()
    return select(HumanTask).join(page, HumanTask.id == page.c.id).order_by(*_inbox_order(HumanTask))


def count_open_tasks(session: Session, actor: Actor, scope: str = "all", process: str | None = None) -> int:
    """How many open tasks the actor sees; the branches are disjoint, so their counts add up."""
    return sum(session.scalar(select(func.count()).select_from(HumanTask).where(branch))
               for branch in open_task_branches(actor, scope, process))
