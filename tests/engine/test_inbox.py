"""Inbox pages: the per-branch query returns exactly what a plain filter-and-sort would."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from workflows.actor import Actor
from workflows.inbox import count_open_tasks, open_tasks_query
from workflows.models import HumanTask, ProcessInstance, ProcessModel, ProcessVersion

ROLES = ["Agent", "Supervisor", "Manager", "VP"]
USERS = ["li", "wang", "zhang"]
BASE = datetime(2024, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def tasks(session):
    """200 open tasks over roles and users, some without a due date, some sharing one."""
    rng = random.Random(7)
    model = ProcessModel(key="inbox", name="inbox", created_at=BASE)
    session.add(model)
    session.flush()
    version = ProcessVersion(model_id=model.id, number=1, process_id="inbox", content_hash="x", bpmn_xml="",
                             created_by="t", created_at=BASE)
    session.add(version)
    session.flush()
    instance = ProcessInstance(version_id=version.id, status="running", state=b"{}", started_by="t",
                               started_at=BASE, updated_at=BASE)
    session.add(instance)
    session.flush()
    rows = []
    for i in range(200):
        due = None if rng.random() < 0.15 else BASE + timedelta(hours=rng.randint(0, 40))
        rows.append(HumanTask(
            id=f"t{i:03d}", instance_id=instance.id, bpmn_id="b", name=f"task {i}", role=rng.choice(ROLES),
            assignee=rng.choice(USERS) if rng.random() < 0.3 else None, due_at=due,
            process_key=rng.choice(["inbox", "other"]), version_number=1,
            created_at=BASE + timedelta(minutes=rng.randint(0, 5))))
    session.add_all(rows)
    session.commit()
    return rows


def _expected(rows, actor, scope, process=None):
    def visible(t):
        mine = t.assignee == actor.username
        pool = t.assignee is None and t.role in actor.roles
        return {"mine": mine, "roles": pool, "all": mine or pool}[scope] and (process is None or t.process_key == process)
    def naive(moment):  # SQLite hands back naive UTC, PostgreSQL aware
        return moment.replace(tzinfo=None)

    def key(t):  # due first, undated last, then oldest, then id
        return (naive(t.due_at) if t.due_at else datetime.max, naive(t.created_at), t.id)
    return [t.id for t in sorted(filter(visible, rows), key=key)]


@pytest.mark.parametrize("scope", ["mine", "roles", "all"])
@pytest.mark.parametrize("roles", [{"Agent"}, {"Agent", "Manager", "VP"}, set()])
def test_pages_match_a_plain_filter_and_sort(session, tasks, scope, roles):
    actor = Actor("li", frozenset(roles))
    for process in (None, "inbox"):
        expected = _expected(tasks, actor, scope, process)
        assert count_open_tasks(session, actor, scope, process) == len(expected)
        for limit, offset in [(10, 0), (10, 10), (25, 30), (50, len(expected) - 5)]:
            page = [t.id for t in session.scalars(open_tasks_query(actor, scope, limit, max(offset, 0), process))]
            assert page == expected[max(offset, 0):max(offset, 0) + limit], (scope, roles, process, limit, offset)
