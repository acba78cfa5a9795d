"""The inbox (issue 4): rows with household and deadline state, filters, paging, counts, the
supervisor's workload and reassignment, drafts of task forms, a task's case history."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.extensions import db
from app.models.inbox import TaskDraft
from app.models.intake import Customer, Household, Project, ServiceEvent, WorkOrder
from app.models.visit import Visit
from app.services.flows.inbox import urgency
from tests.app.conftest import browser_login
from tests.app.test_ui import form_spec
from workflows.models import EngineEvent, HumanTask

from .helpers import PLAN, VISIT, complete, start, tasks

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_urgency_boundaries():
    now = datetime(2026, 3, 5, 4, 0, tzinfo=timezone.utc)  # 12:00 in Shanghai
    assert urgency(None, now, 48) is None
    assert urgency(now, now, 48) == "overdue"  # due this very minute
    assert urgency(now - timedelta(days=3), now, 48) == "overdue"
    local_midnight = datetime(2026, 3, 6, 0, 0, tzinfo=SHANGHAI)
    assert urgency(local_midnight - timedelta(minutes=1), now, 48) == "today"  # 23:59 local
    assert urgency(local_midnight, now, 48) == "soon"  # tomorrow 00:00 local
    assert urgency(now + timedelta(hours=48), now, 48) == "soon"
    assert urgency(now + timedelta(hours=48, minutes=1), now, 48) is None
    assert urgency(datetime(2026, 3, 5, 5, 0), now, 48) == "today"  # naive = UTC (SQLite)


def _household(project_key: str, room: str, customer: str) -> Household:
    project_id = db.session.scalar(select(Project.id).where(Project.key == project_key))
    household = Household(project_id=project_id, building="9", room=room, file_no=f"{project_key}-{room}")
    db.session.add(household)
    db.session.flush()
    db.session.add(Customer(household_id=household.id, name=customer, role="owner"))
    db.session.commit()
    return household


def _planned(client, sup, key, household: Household | None, category="repair", window_days=5, visitor="agent"):
    v = start(client, sup, category=category, project=key, household=f"9栋-{household.room if household else 'x'}")
    if household:
        db.session.get(Visit, v["id"]).household_id = household.id
        db.session.commit()
    complete(client, sup, tasks(client, sup, v["instance_id"])["plan"],
             {**PLAN, "window_days": window_days, "visitor": visitor})
    return v, tasks(client, sup, v["instance_id"])["visit"]


def test_inbox_rows_filters_paging_and_bad_filters(project, client, auth, flows):
    sup, agent = auth("supervisor"), auth("agent")
    east, west = project("east", "P000-3"), project("west", "P000-3")
    h1 = _household(east, "901", "李雷")
    _v1, t1 = _planned(client, sup, east, h1, "repair", window_days=1)
    _v2, t2 = _planned(client, sup, west, _household(west, "902", "韩梅梅"), "help", window_days=3)
    _v3, t3 = _planned(client, sup, east, None, "help", window_days=5)

    r = client.get("/api/v1/inbox/?scope=mine", headers=agent)
    assert r.status_code == 200 and r.json["count"] == 3
    rows = {row["id"]: row for row in r.json["result"]}
    assert [row["id"] for row in r.json["result"]] == [t1["id"], t2["id"], t3["id"]]  # soonest due first
    assert rows[t1["id"]]["household"] == "9栋-901" and rows[t1["id"]]["customer"] == "李雷"
    assert rows[t1["id"]]["category"] == "repair" and rows[t1["id"]]["project"] == east
    assert rows[t1["id"]]["urgency"] == "soon" and rows[t2["id"]]["urgency"] is None

    def ids(query):
        r = client.get(f"/api/v1/inbox/?scope=mine&{query}", headers=agent)
        assert r.status_code == 200, r.json
        return [row["id"] for row in r.json["result"]]

    assert ids("category=help") == [t2["id"], t3["id"]]
    assert ids(f"project={east}") == [t1["id"], t3["id"]]
    assert ids(f"project={east}&category=help") == [t3["id"]]
    assert ids("order=-due") == [t3["id"], t2["id"], t1["id"]]
    due2 = datetime.fromisoformat(t2["due_at"]).astimezone(SHANGHAI).date()
    assert ids(f"due_from={due2}&due_to={due2}") == [t2["id"]]
    assert ids("per_page=2&page=1") == [t1["id"], t2["id"]]
    assert ids("per_page=2&page=2") == [t3["id"]]
    r = client.get("/api/v1/inbox/?scope=mine&per_page=2", headers=agent)
    assert r.json["pages"] == 2 and r.json["count"] == 3

    flows.advance(days=2)  # t1 is overdue now
    r = client.get("/api/v1/inbox/?scope=mine", headers=agent)
    assert r.json["result"][0]["urgency"] == "overdue"
    assert client.get("/api/v1/inbox/counts", headers=agent).json["result"] == {"mine": 3, "roles": 0,
                                                                                 "overdue": 1}

    for query, field in (("due_from=2026-02-30", "due_from"), ("order=sideways", "order"), ("page=0", "page"),
                         ("per_page=x", "per_page"), ("due_from=2026-03-02&due_to=2026-03-01", "due_to")):
        r = client.get(f"/api/v1/inbox/?scope=mine&{query}", headers=agent)
        assert r.status_code == 422 and r.json["problems"][0]["field"] == field, (query, r.json)

    # the page marks the filter it could not read and still shows the inbox
    browser = browser_login(client.application.test_client(), "agent")
    browser.get("/lang/en")
    html = browser.get("/inbox/?scope=mine&due_from=yesterday").get_data(as_text=True)
    assert 'class="text-danger filter-error" data-field="due_from"' in html and 'id="my-tasks"' in html
    html = browser.get(f"/inbox/?scope=mine&category=repair").get_data(as_text=True)
    assert f'data-task="{t1["id"]}"' in html and f'data-task="{t2["id"]}"' not in html
    assert 'data-urgency="overdue"' in html and "Overdue" in html


def test_supervisor_workload_overdue_list_and_reassignment(project, client, auth, flows):
    sup, agent = auth("supervisor"), auth("agent")
    key = project("team", "P000-3")
    _v1, t1 = _planned(client, sup, key, None, window_days=1)
    _v2, t2 = _planned(client, sup, key, None, window_days=10)
    flows.advance(days=2)

    r = client.get("/api/v1/inbox/workload", headers=sup)
    assert r.status_code == 200
    people = {p["assignee"]: p for p in r.json["result"]["people"]}
    assert people["agent"]["open"] == 2 and people["agent"]["overdue"] == 1
    assert [row["id"] for row in r.json["result"]["overdue"]] == [t1["id"]]
    assert client.get("/api/v1/inbox/workload", headers=agent).status_code == 403

    def reassign(body, headers=sup):
        return client.post(f"/api/v1/tasks/{t1['id']}/reassign", json=body, headers=headers)

    events_before = db.session.scalar(select(EngineEvent.id).order_by(EngineEvent.id.desc()).limit(1))
    for body, field in (({"to": "nobody", "reason": "sick"}, "to"),
                        ({"to": "auditor", "reason": "sick"}, "to"),  # does not hold the Agent role
                        ({"to": "agent", "reason": "sick"}, "to"),  # already theirs
                        ({"to": "", "reason": "sick"}, "to")):
        r = reassign(body)
        assert r.status_code == 422 and r.json["problems"][0]["field"] == field, (body, r.json)
    sm = client.application.appbuilder.sm
    if sm.find_user(username="agent2") is None:
        sm.add_user("agent2", "agent2", "test", "agent2@test.local", sm.find_role("Agent"), "test-password-1")
    r = reassign({"to": "agent2", "reason": " "})
    assert r.status_code == 422 and r.json["problems"][0]["field"] == "reason"
    db.session.expire_all()
    assert db.session.get(HumanTask, t1["id"]).assignee == "agent"
    assert db.session.scalar(select(EngineEvent.id).order_by(EngineEvent.id.desc()).limit(1)) == events_before

    assert reassign({"to": "agent2", "reason": "病假 sick leave"}, headers=agent).status_code == 403
    r = reassign({"to": "agent2", "reason": "病假 sick leave"})
    assert r.status_code == 200 and r.json["result"]["assignee"] == "agent2"
    event = db.session.scalars(select(EngineEvent).where(EngineEvent.kind == "task_reassigned",
                                                         EngineEvent.task_id == t1["id"])).one()
    assert event.actor == "supervisor" and event.detail["previous"] == "agent"
    assert event.detail["reason"] == "病假 sick leave"

    # the team page shows the same numbers
    browser = browser_login(client.application.test_client(), "supervisor")
    html = browser.get("/inbox/team").get_data(as_text=True)
    assert 'data-user="agent2"' in html and f'data-task="{t1["id"]}"' in html

    # the task page's reassign form: a blank reason is named and changes nothing; a reason hands it back
    browser.get("/lang/en")
    page = browser.post(f"/inbox/task/{t1['id']}/reassign", data={"to": "agent", "reason": ""},
                        follow_redirects=True).get_data(as_text=True)
    assert "reason: a reason is required" in page
    db.session.expire_all()
    assert db.session.get(HumanTask, t1["id"]).assignee == "agent2"
    browser.post(f"/inbox/task/{t1['id']}/reassign", data={"to": "agent", "reason": "回来了 back"})
    db.session.expire_all()
    assert db.session.get(HumanTask, t1["id"]).assignee == "agent"


def test_drafts_are_saved_resumed_guarded_and_dropped_on_completion(project, client, auth, flows):
    sup, agent = auth("supervisor"), auth("agent")
    key = project("draft", "P000-3")
    _v, task = _planned(client, sup, key, None)
    url = f"/api/v1/inbox/drafts/{task['id']}"
    assert client.get(url, headers=agent).json["result"] is None

    r = client.put(url, json={"data": {"summary": "半"}}, headers=agent)
    assert r.status_code == 200 and r.json["result"]["revision"] == 1
    r = client.put(url, json={"data": {"summary": "半截记录"}, "revision": 1}, headers=agent)
    assert r.status_code == 200 and r.json["result"]["revision"] == 2
    # a save from a page loaded before the last one is refused, and the newer draft is kept
    r = client.put(url, json={"data": {"summary": "old tab"}, "revision": 1}, headers=agent)
    assert r.status_code == 409
    assert client.get(url, headers=agent).json["result"]["data"] == {"summary": "半截记录"}
    assert client.put(url, json={"data": "x"}, headers=agent).status_code == 422
    assert client.put(url, json={"data": {}, "revision": "2"}, headers=agent).status_code == 422
    # someone who may not work the task cannot keep a draft of it
    assert client.put(url, json={"data": {"summary": "x"}}, headers=auth("supervisor")).status_code == 403

    # the task page resumes the draft
    browser = browser_login(client.application.test_client(), "agent")
    html = browser.get(f"/inbox/task/{task['id']}").get_data(as_text=True)
    assert 'id="draft-note"' in html and form_spec(html)["values"] == {"summary": "半截记录"}

    # a refused completion keeps the draft; a completed task has none
    complete(client, agent, task, {**VISIT, "summary": "x"}, status=422)
    assert db.session.scalar(select(TaskDraft).where(TaskDraft.task_id == task["id"])) is not None
    complete(client, agent, task, VISIT)
    db.session.expire_all()
    assert db.session.scalar(select(TaskDraft).where(TaskDraft.task_id == task["id"])) is None


def test_task_page_shows_the_households_case_history(project, client, auth, flows):
    sup = auth("supervisor")
    key = project("hist", "P000-3")
    household = _household(key, "903", "张伟")
    earlier, _task = _planned(client, sup, key, household, "help")
    project_id = db.session.scalar(select(Project.id).where(Project.key == key))
    db.session.add(ServiceEvent(project_id=project_id, household_id=household.id, category="complaint",
                                severity="MINOR", content="楼道灯不亮 stair light out", received_at=flows.now(),
                                received_by="agent"))
    db.session.add(WorkOrder(project_id=project_id, number="WO-778", service_type="plumbing",
                             household_id=household.id, completed_at=flows.now(), assigned_staff="师傅王"))
    db.session.commit()
    _v, task = _planned(client, sup, key, household, "repair")
    browser = browser_login(client.application.test_client(), "agent")
    html = browser.get(f"/inbox/task/{task['id']}").get_data(as_text=True)
    history = html.split('id="case-history"')[1]
    assert history.count('class="history-visit"') == 1  # the earlier visit, not this one
    assert "楼道灯不亮" in history and "WO-778" in history and "师傅王" in history
    assert 'id="print-blank"' in html
