"""Across slices: intake → flows → notify → e-mail, through the REST API.

FLOW-02 (the supervisor's plan notifies the visitor) and FC-04/ROLE-02 (a MAJOR complaint is reported
to the supervisor and the manager) reach people in the app and, with SMTP configured, by e-mail.
"""
from __future__ import annotations

from app.services.notifications import send_pending_mail
from tests.flows.conftest import flows, project  # noqa: F401  (FLOWS' fixtures: frozen clock, projects)
from tests.flows.helpers import PLAN, complete, tasks


def _event(client, headers, key, **body):
    r = client.post("/api/v1/households/", json={"project": key, "building": "1", "room": "101"}, headers=headers)
    assert r.status_code == 201, r.json
    r = client.post("/api/v1/service-events/", json={"project": key, "building": "1", "room": "101",
                                                     "content": "楼道灯不亮 corridor light", **body}, headers=headers)
    assert r.status_code == 201, r.json
    return r.json["result"]


def test_flow02_plan_notifies_the_visitor_in_app_and_by_mail(smtp, flows, project, client, auth):
    admin, sup, agent = auth("admin"), auth("supervisor"), auth("agent")
    key = project("nt", "P000-3")
    event = _event(client, admin, key, category="help")
    assert client.post(f"/api/v1/service-events/{event['id']}/complete", json={}, headers=admin).status_code == 200
    [v] = client.get("/api/v1/visits/", headers=sup).json["result"]
    assert client.get("/api/v1/notifications/", headers=agent).json["unread"] == 0

    complete(client, sup, tasks(client, sup, v["instance_id"])["plan"], PLAN)

    mine = client.get("/api/v1/notifications/", headers=agent).json
    assert mine["unread"] == 1
    [note] = mine["result"]
    assert "回访任务" in note["subject"] and note["body"] == PLAN["content"]
    assert smtp.messages == []  # the request only queued it
    assert send_pending_mail() == {"sent": 1, "failed": 0}
    [mail] = smtp.messages
    assert mail["rcpt"] == ["agent@test.local"] and mail["message"]["Subject"] == note["subject"]
    assert PLAN["content"] in mail["message"].get_content()


def test_fc04_major_complaint_reaches_supervisor_and_manager(notes, flows, project, client, auth):
    admin = auth("admin")
    key = project("nc", "P003")
    _event(client, admin, key, category="complaint", severity="MAJOR", content="电梯困人 trapped in the lift")
    for user in ("supervisor", "manager"):
        listing = client.get("/api/v1/notifications/", headers=auth(user)).json
        subjects = [n["subject"] for n in listing["result"]]
        assert len([s for s in subjects if s.startswith("重大投诉")]) == 1, (user, subjects)
        assert "电梯困人 trapped in the lift" in [n["body"] for n in listing["result"]]
    assert client.get("/api/v1/notifications/", headers=auth("agent")).json["count"] == 0


def test_flow04_the_due_soon_reminder_and_the_overdue_escalation_are_mailed(smtp, flows, client, auth,
                                                                           monkeypatch, app_ctx):
    """FLOW-04: the reminder timer tells the visitor and the overdue timer the supervisors, in the app and by
    e-mail; the mail links to the inbox task page on the public site."""
    from tests.flows.helpers import fire_timers, start

    monkeypatch.setitem(app_ctx.config, "PUBLIC_BASE_URL", "https://huifang.example.com")
    sup = auth("supervisor")
    v = start(client, sup, category="help")
    complete(client, sup, tasks(client, sup, v["instance_id"])["plan"], PLAN)  # window 5 days
    assert send_pending_mail()["sent"] == 1  # FLOW-02's assignment notice
    visit_task = tasks(client, sup, v["instance_id"])["visit"]
    flows.advance(days=4)
    assert fire_timers() == 1
    assert send_pending_mail() == {"sent": 1, "failed": 0}
    reminder = smtp.messages[-1]
    assert reminder["rcpt"] == ["agent@test.local"]
    assert reminder["message"]["Subject"].startswith("回访即将到期 Visit due soon")
    assert f"https://huifang.example.com/inbox/task/{visit_task['id']}" in reminder["message"].get_content()
    flows.advance(days=1, minutes=1)
    assert fire_timers() == 1
    assert send_pending_mail()["sent"] >= 1
    overdue = [m for m in smtp.messages if m["message"]["Subject"].startswith("回访逾期 Visit overdue")]
    [to_supervisor] = [m for m in overdue if m["rcpt"] == ["supervisor@test.local"]]  # every Supervisor is told
    assert "agent@test.local" not in [r for m in overdue for r in m["rcpt"]]
    assert f"https://huifang.example.com/visits/show/{v['id']}" in to_supervisor["message"].get_content()
