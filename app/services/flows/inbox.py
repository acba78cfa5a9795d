"""The inbox: pages of open tasks with their household and deadline state, the team's workload,
reassignment, and a task's case history. Reads the engine's task rows, never a workflow document."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, case, func, or_, select

from workflows import clock, localtime
from workflows.actor import Actor
from workflows.errors import Forbidden, InvalidInput, Problem
from workflows.inbox import count_open_tasks, open_task_branches, open_tasks_query
from workflows.models import HumanTask

from ...extensions import db
from ...models.intake import CATEGORIES, Project, ServiceEvent, WorkOrder
from ...models.visit import Visit
from ..engine import get_engine
from ..intake.events import customer_names

SCOPES = ("mine", "roles")
ORDERS = ("due", "-due")
PER_PAGE_CHOICES = (10, 25, 50, 100)


@dataclass(frozen=True)
class InboxFilter:
    """What the user narrowed the inbox to; dates are local calendar days, both ends included."""
    category: str | None = None
    project: str | None = None
    due_from: date | None = None
    due_to: date | None = None
    order: str = "due"
    page: int = 1
    per_page: int = 25

    @property
    def narrows(self) -> bool:
        return bool(self.category or self.project or self.due_from or self.due_to or self.order != "due")

    @classmethod
    def parse(cls, args) -> "InboxFilter":
        """From query-string values; a bad value is an error naming its field."""
        problems, values = [], {}
        for name in ("category", "project"):
            values[name] = (args.get(name) or "").strip() or None
        for name in ("due_from", "due_to"):
            raw = (args.get(name) or "").strip()
            if raw:
                try:
                    values[name] = date.fromisoformat(raw)
                except ValueError:
                    problems.append(Problem(f"not a date (YYYY-MM-DD): {raw!r}", field=name))
        order = args.get("order") or "due"
        if order not in ORDERS:
            problems.append(Problem(f"must be one of {', '.join(ORDERS)}", field="order"))
        values["order"] = order
        for name, default in (("page", 1), ("per_page", 25)):
            raw = args.get(name) or default
            try:
                values[name] = int(raw)
            except (TypeError, ValueError):
                problems.append(Problem(f"not a number: {raw!r}", field=name))
                continue
            if values[name] < 1:
                problems.append(Problem("must be at least 1", field=name))
        if values.get("per_page") and values["per_page"] > max(PER_PAGE_CHOICES):
            problems.append(Problem(f"at most {max(PER_PAGE_CHOICES)}", field="per_page"))
        if values.get("due_from") and values.get("due_to") and values["due_from"] > values["due_to"]:
            problems.append(Problem("the range ends before it starts", field="due_to"))
        if problems:
            raise InvalidInput(problems)
        return cls(**values)


@dataclass
class InboxRow:
    task: HumanTask
    urgency: str | None
    visit_id: int | None = None
    household: str | None = None
    customer: str | None = None
    category: str | None = None
    project: str | None = None


@dataclass
class InboxPage:
    rows: list[InboxRow]
    total: int
    page: int
    per_page: int
    pages: int = field(init=False)

    def __post_init__(self):
        self.pages = max(1, -(-self.total // self.per_page))


def urgency(due_at: datetime | None, now: datetime, soon_hours: int) -> str | None:
    """'overdue' once the deadline passed, 'today' when it falls on today's local date, 'soon' within
    the next ``soon_hours``; None otherwise."""
    if due_at is None:
        return None
    due_at = localtime.utc(due_at)
    if due_at <= now:
        return "overdue"
    if localtime.local_date(due_at) == localtime.local_date(now):
        return "today"
    if due_at - now <= timedelta(hours=soon_hours):
        return "soon"
    return None


def inbox_page(actor: Actor, scope: str, filt: InboxFilter) -> InboxPage:
    """One page of the actor's 'mine' or 'roles' tasks, with household, customer and category."""
    if scope not in SCOPES:
        raise InvalidInput(Problem(f"must be one of {', '.join(SCOPES)}", field="scope"))
    offset = (filt.page - 1) * filt.per_page
    if not filt.narrows:
        # The indexed path the inbox benchmark measures: one index range per branch.
        tasks = db.session.scalars(open_tasks_query(actor, scope, limit=filt.per_page, offset=offset)).all()
        total = count_open_tasks(db.session, actor, scope)
    else:
        tasks, total = _filtered(actor, scope, filt, offset)
    return InboxPage(_rows(tasks), total, filt.page, filt.per_page)


def _filtered(actor: Actor, scope: str, filt: InboxFilter, offset: int):
    branches = open_task_branches(actor, scope, None)
    if not branches:
        return [], 0
    query = select(HumanTask).outerjoin(Visit, Visit.instance_id == HumanTask.instance_id).where(or_(*branches))
    if filt.category:
        query = query.where(Visit.category == filt.category)
    if filt.project:
        query = query.where(Visit.project_key == filt.project)
    if filt.due_from:
        query = query.where(HumanTask.due_at >= localtime.day_start(filt.due_from))
    if filt.due_to:
        query = query.where(HumanTask.due_at < localtime.day_start(filt.due_to + timedelta(days=1)))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    due = HumanTask.due_at.desc().nulls_last() if filt.order == "-due" else HumanTask.due_at.asc().nulls_last()
    tasks = db.session.scalars(query.order_by(due, HumanTask.created_at, HumanTask.id)
                               .limit(filt.per_page).offset(offset)).all()
    return tasks, total


def _rows(tasks: list[HumanTask]) -> list[InboxRow]:
    now = clock.now()
    soon = current_app.config["HUIFANG_DUE_SOON_HOURS"]
    visits = {v.instance_id: v for v in db.session.scalars(
        select(Visit).where(Visit.instance_id.in_({t.instance_id for t in tasks})))} if tasks else {}
    names = customer_names({v.household_id for v in visits.values() if v.household_id})
    rows = []
    for task in tasks:
        visit = visits.get(task.instance_id)
        rows.append(InboxRow(
            task=task, urgency=urgency(task.due_at, now, soon),
            visit_id=visit.id if visit else None,
            household=(visit.household if visit else None) or task.business_key,
            customer=names.get(visit.household_id) if visit else None,
            category=visit.category if visit else None, project=visit.project_key if visit else None))
    return rows


def counts(actor: Actor) -> dict[str, int]:
    """The menu's badges: my tasks, my roles' unclaimed tasks, and how many of mine are overdue."""
    now = clock.now()
    overdue = db.session.scalar(select(func.count()).select_from(HumanTask).where(
        HumanTask.assignee == actor.username, HumanTask.due_at <= now))
    return {"mine": count_open_tasks(db.session, actor, "mine"),
            "roles": count_open_tasks(db.session, actor, "roles"), "overdue": overdue}


def filter_choices() -> dict[str, list]:
    """Categories and projects that open tasks can be narrowed to."""
    projects = db.session.execute(select(Project.key, Project.name).order_by(Project.key)).all()
    return {"categories": CATEGORIES, "projects": [(key, name) for key, name in projects]}


# ---------------------------------------------------------------- supervisors

def workload() -> dict:
    """Open tasks per assignee (and per role for the unclaimed ones): total, overdue, due today."""
    now = clock.now()
    tomorrow = localtime.day_start(localtime.today() + timedelta(days=1))
    overdue = func.sum(case((HumanTask.due_at <= now, 1), else_=0))
    today = func.sum(case((and_(HumanTask.due_at > now, HumanTask.due_at < tomorrow), 1), else_=0))
    people = db.session.execute(
        select(HumanTask.assignee, func.count(), overdue, today).where(HumanTask.assignee.is_not(None))
        .group_by(HumanTask.assignee).order_by(func.count().desc(), HumanTask.assignee)).all()
    pools = db.session.execute(
        select(HumanTask.role, func.count(), overdue, today).where(HumanTask.assignee.is_(None))
        .group_by(HumanTask.role).order_by(HumanTask.role)).all()
    as_dict = lambda key, rows: [{key: r[0], "open": r[1], "overdue": int(r[2] or 0), "today": int(r[3] or 0)}
                                 for r in rows]
    return {"people": as_dict("assignee", people), "pools": as_dict("role", pools)}


def overdue_tasks(limit: int = 200) -> list[InboxRow]:
    """Every overdue open task, the longest overdue first."""
    tasks = db.session.scalars(select(HumanTask).where(HumanTask.due_at <= clock.now())
                               .order_by(HumanTask.due_at, HumanTask.id).limit(limit)).all()
    return _rows(tasks)


def reassign(task_id: str, actor: Actor, to_user: str, reason: str) -> HumanTask:
    """A supervisor hands a task to someone who may work it; the reason goes to the event trail."""
    to_user = (to_user or "").strip()
    if not to_user:
        raise InvalidInput(Problem("name the user to hand the task to", field="to"))
    task = get_engine().task(task_id)
    user = current_app.appbuilder.sm.find_user(username=to_user)
    if user is None or not user.active:
        raise InvalidInput(Problem(f"no active user named {to_user!r}", field="to"))
    roles = {role.name for role in user.roles}
    if task.role and task.role not in roles:
        raise InvalidInput(Problem(f"{to_user} does not hold the role {task.role} this task needs", field="to"))
    if task.assignee == to_user:
        raise InvalidInput(Problem(f"the task is already {to_user}'s", field="to"))
    return get_engine().reassign(task_id, actor, to_user, reason)


def candidates_for(task: HumanTask) -> list[str]:
    """Active users who could take the task over (they hold its role)."""
    sm = current_app.appbuilder.sm
    users = [u for u in db.session.scalars(select(sm.user_model).where(sm.user_model.active.is_(True))
                                           .order_by(sm.user_model.username))]
    return [u.username for u in users if not task.role or task.role in {r.name for r in u.roles}]


# ---------------------------------------------------------------- a task's context

def task_context(task: HumanTask) -> dict:
    """The visit a task belongs to and the household's history: earlier visits, complaints, repairs."""
    visit = db.session.scalar(select(Visit).where(Visit.instance_id == task.instance_id))
    history = {"visit": visit, "visits": [], "complaints": [], "repairs": []}
    if visit is None:
        return history
    if visit.household_id:
        same = Visit.household_id == visit.household_id
    elif visit.household:
        same = Visit.household == visit.household
    else:
        return history
    history["visits"] = db.session.scalars(select(Visit).where(same, Visit.id != visit.id)
                                           .order_by(Visit.created_at.desc()).limit(20)).all()
    if visit.household_id:
        history["complaints"] = db.session.scalars(
            select(ServiceEvent).where(ServiceEvent.household_id == visit.household_id,
                                       ServiceEvent.category == "complaint")
            .order_by(ServiceEvent.received_at.desc()).limit(20)).all()
        history["repairs"] = db.session.scalars(
            select(WorkOrder).where(WorkOrder.household_id == visit.household_id)
            .order_by(WorkOrder.completed_at.desc().nulls_last()).limit(20)).all()
    return history


def may_work(task: HumanTask, actor: Actor) -> bool:
    if task.assignee:
        return task.assignee == actor.username
    return not task.role or task.role in actor.roles


def require_may_work(task: HumanTask, actor: Actor) -> None:
    if not may_work(task, actor):
        owner = f"claimed by {task.assignee}" if task.assignee else f"for role {task.role}"
        raise Forbidden(f"task {task.id} is {owner}")

