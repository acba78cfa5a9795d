"""RET-18…21: viewing, borrowing or copying a household file needs the right consent; all is registered."""
from __future__ import annotations

from app.extensions import db
from app.models.audit import AuditEntry
from tests.app.conftest import _admin_password, app, app_ctx, auth, client  # noqa: F401


def _household(client, headers, room: str, key_customer: bool = False) -> int:
    from app.models.intake import Household
    from app.services.intake.events import ensure_demo_project

    ensure_demo_project()
    created = client.post("/api/v1/households/", headers=headers, json={"project": "cuiyuan", "building": "7",
                                                                        "room": room})
    assert created.status_code == 201, created.json
    if key_customer:
        db.session.get(Household, created.json["result"]["id"]).key_customer = True
        db.session.commit()
    return created.json["result"]["id"]


def test_an_internal_view_is_asked_approved_by_a_department_head_and_returned(app_ctx, client, auth):
    agent, dept, manager = auth("agent"), auth("departmenthead"), auth("manager")
    household = _household(client, auth("supervisor"), "701")
    bad = client.post("/api/v1/file-loans/", headers=agent, json={"household_id": household, "kind": "steal"})
    assert bad.status_code == 422 and {p["field"] for p in bad.json["problems"]} == {"kind", "purpose"}
    asked = client.post("/api/v1/file-loans/", headers=agent, json={
        "household_id": household, "kind": "view", "purpose": "核对投诉处理记录"}).json["result"]
    assert asked["status"] == "requested" and asked["requester"] == "agent"
    assert client.post(f"/api/v1/file-loans/{asked['id']}/approve", headers=agent,
                       json={"note": "ok"}).status_code == 403  # agents do not decide
    approved = client.post(f"/api/v1/file-loans/{asked['id']}/approve", headers=dept, json={"note": "同意查阅"})
    assert approved.status_code == 200 and approved.json["result"]["approver"] == "departmenthead"
    assert client.post(f"/api/v1/file-loans/{asked['id']}/approve", headers=manager,
                       json={"note": "again"}).status_code == 409
    assert client.post(f"/api/v1/file-loans/{asked['id']}/return", headers=agent).json["result"]["status"] == "returned"
    register = client.get("/api/v1/file-loans/", headers=auth("auditor")).json["result"]
    assert register[0]["id"] == asked["id"] and register[0]["status"] == "returned"
    db.session.expire_all()
    changes = db.session.query(AuditEntry).filter_by(target_type="intake_file_loan",
                                                     target_id=str(asked["id"])).order_by(AuditEntry.id).all()
    assert [(e.action, e.actor) for e in changes] == [("create", "agent"), ("update", "departmenthead"),
                                                     ("update", "agent")]


def test_external_parties_and_key_customers_copies_need_the_project_head_and_nobody_approves_themselves(
        app_ctx, client, auth):
    dept, manager = auth("departmenthead"), auth("manager")
    household = _household(client, auth("supervisor"), "702", key_customer=True)
    missing = client.post("/api/v1/file-loans/", headers=dept, json={
        "household_id": household, "kind": "copy", "party": "external", "purpose": "法院调查"})
    assert missing.status_code == 422 and missing.json["problems"][0]["field"] == "credentials"
    court = client.post("/api/v1/file-loans/", headers=dept, json={
        "household_id": household, "kind": "copy", "party": "external", "purpose": "法院调查",
        "credentials": "介绍信 (2026) 民调字第 12 号"}).json["result"]
    refused = client.post(f"/api/v1/file-loans/{court['id']}/approve", headers=dept, json={"note": "同意"})
    assert refused.status_code == 403  # a department head may not, and not for his own request either
    copy = client.post("/api/v1/file-loans/", headers=manager, json={
        "household_id": household, "kind": "copy", "purpose": "存档复印"}).json["result"]
    assert client.post(f"/api/v1/file-loans/{copy['id']}/approve", headers=manager,
                       json={"note": "自批"}).status_code == 403  # RET-21
    assert client.post(f"/api/v1/file-loans/{copy['id']}/approve", headers=dept,
                       json={"note": "同意"}).status_code == 403  # key customer's copy: project head only
    ok = client.post(f"/api/v1/file-loans/{court['id']}/reject", headers=manager, json={"note": "手续不全"})
    assert ok.status_code == 200 and ok.json["result"]["status"] == "rejected"
