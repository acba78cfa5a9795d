"""REST intake of service events (SOP_RULES §5.5 FC-01…FC-07, AMB-25)."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.models.intake import Household, ServiceEvent

CONTRACT = {"contract_start": "2024-03-01", "contract_end": "2024-08-31"}
BY_CATEGORY = {
    "complaint": ({"severity": "IMPORTANT"}, "customer_service"),
    "repair": ({}, "engineering"),
    "special_service": (CONTRACT, "service"),
    "help": ({}, "customer_service"),
    "emergency_patient": ({}, "security"),
    "publication_event": ({}, "customer_service"),
    "decoration": ({}, "engineering"),
    "survey_item": ({}, "customer_service"),
    "other": ({}, "customer_service"),
}


def household(building="1", room="101") -> Household:
    return db.session.query(Household).filter_by(building=building, room=room).one()


def post(client, headers, **body):
    return client.post("/api/v1/service-events/", headers=headers, json=body)


@pytest.mark.parametrize("category", list(BY_CATEGORY))
def test_every_category_is_recorded_and_routed_fc06(client, auth, project, signals, category):
    extra, department = BY_CATEGORY[category]
    h = household()
    response = post(client, auth("agent"), project="cuiyuan", household_id=h.id, category=category,
                    content="业主反映 something", subject="tag", source="d", **extra)
    assert response.status_code == 201, response.json
    result = response.json["result"]
    assert result["category"] == category
    assert result["routed_to"] == department
    assert result["status"] == "received"
    assert result["received_by"] == "agent"
    assert result["household"] == "CY-1-101"
    assert signals["recorded"] == [(result["id"], "received")]
    assert signals["notify"] == []
    assert client.get(f"/api/v1/service-events/{result['id']}", headers=auth("auditor")).json["result"] == result


def test_major_complaint_goes_to_the_project_head_and_notifies_fc04_role02(client, auth, project, signals):
    response = post(client, auth("agent"), project="cuiyuan", building="2", room="301", category="complaint",
                    severity="MAJOR", content="电梯困人 trapped in the lift")
    assert response.status_code == 201, response.json
    assert response.json["result"]["routed_to"] == "project_head"
    assert len(signals["notify"]) == 1
    sent = signals["notify"][0]
    assert sent["roles"] == ["Supervisor", "Manager"]
    assert "CY-2-301" in sent["subject"]
    assert sent["body"] == "电梯困人 trapped in the lift"


@pytest.mark.parametrize("body, field", [
    ({"category": "complaint", "content": "x"}, "severity"),  # AMB-25: complaints carry a severity
    ({"category": "complaint", "severity": "HUGE", "content": "x"}, "severity"),
    ({"category": "repair", "severity": "MAJOR", "content": "x"}, "severity"),
    ({"category": "flood", "content": "x"}, "category"),
    ({"category": "repair"}, "content"),
    ({"category": "repair", "content": "x", "source": "z"}, "source"),
    ({"category": "repair", "content": "x", "received_at": "yesterday"}, "received_at"),
    ({"category": "special_service", "content": "x"}, "contract_start"),
    ({"category": "special_service", "content": "x", "contract_start": "2024-05-01", "contract_end": "2024-04-01"},
     "contract_end"),
    ({"category": "repair", "content": "x", "building": "9", "room": "999"}, "household"),
    ({"category": "repair", "content": "x", "household_id": None, "building": None}, "household"),
    ({"category": "repair", "content": "x", "project": "nowhere", "building": "1", "room": "101"}, "project"),
])
def test_invalid_intake_names_the_field_and_stores_nothing(client, auth, project, signals, body, field):
    body = {"project": "cuiyuan", **body}
    response = post(client, auth("agent"), **body)
    assert response.status_code == 422, response.json
    assert field in {p.get("field") for p in response.json["problems"]}, response.json
    assert db.session.query(ServiceEvent).count() == 0
    assert signals["recorded"] == []


def test_completing_a_repair_sends_the_signal_once(client, auth, project, signals):
    h = household("3", "202")
    created = post(client, auth("agent"), project="cuiyuan", household_id=h.id, category="repair",
                   content="水管漏水 leaking pipe", received_at="2024-03-04T09:00:00+08:00").json["result"]
    signals["recorded"].clear()
    response = client.post(f"/api/v1/service-events/{created['id']}/complete", headers=auth("departmenthead"),
                           json={"completed_at": "2024-03-05T16:30:00+08:00"})
    assert response.status_code == 200, response.json
    assert response.json["result"]["status"] == "completed"
    assert response.json["result"]["completed_at"].startswith("2024-03-05T08:30:00")
    assert signals["recorded"] == [(created["id"], "completed")]
    again = client.post(f"/api/v1/service-events/{created['id']}/complete", headers=auth("agent"), json={})
    assert again.status_code == 409
    assert signals["recorded"] == [(created["id"], "completed")]


def test_closing_a_complaint_and_completion_before_receipt(client, auth, project, signals):
    created = post(client, auth("agent"), project="cuiyuan", building="1", room="102", category="complaint",
                   severity="MINOR", content="噪音 noise", received_at="2024-03-04T09:00:00+08:00").json["result"]
    early = client.post(f"/api/v1/service-events/{created['id']}/complete", headers=auth("agent"),
                        json={"completed_at": "2024-03-01T09:00:00+08:00"})
    assert early.status_code == 422 and early.json["problems"][0]["field"] == "completed_at"
    done = client.post(f"/api/v1/service-events/{created['id']}/complete", headers=auth("agent"),
                       json={"completed_at": "2024-03-06T09:00:00+08:00"})
    assert done.json["result"]["status"] == "closed"
    assert signals["recorded"][-1] == (created["id"], "closed")
    assert client.post("/api/v1/service-events/99999/complete", headers=auth("agent"), json={}).status_code == 404


def test_list_filters_and_permissions(client, auth, project):
    for category in ("repair", "help"):
        post(client, auth("agent"), project="cuiyuan", building="1", room="101", category=category, content="x")
    listed = client.get("/api/v1/service-events/?category=repair", headers=auth("supervisor")).json
    assert listed["count"] == 1 and listed["result"][0]["category"] == "repair"
    # Auditor reads but records nothing; VP cannot complete.
    assert post(client, auth("auditor"), project="cuiyuan", category="help", content="x").status_code == 403
    event_id = listed["result"][0]["id"]
    assert client.post(f"/api/v1/service-events/{event_id}/complete", headers=auth("vp"), json={}).status_code == 403
    assert client.get("/api/v1/service-events/").status_code == 401


def test_households_and_customers_create_with_file_no_ret09(client, auth, project):
    response = client.post("/api/v1/households/", headers=auth("agent"),
                           json={"project": "cuiyuan", "building": "7", "room": "1203", "unit": "2",
                                 "key_customer": True})
    assert response.status_code == 201, response.json
    h = response.json["result"]
    assert h["file_no"] == "CY-7-1203"  # RET-09: property code + building + room
    assert h["key_customer"] is True
    dup = client.post("/api/v1/households/", headers=auth("agent"),
                      json={"project": "cuiyuan", "building": "7", "room": "1203"})
    assert dup.status_code == 422 and dup.json["problems"][0]["field"] == "room"
    missing = client.post("/api/v1/households/", headers=auth("agent"), json={"project": "cuiyuan"})
    assert {p["field"] for p in missing.json["problems"]} == {"building", "room"}
    customer = client.post("/api/v1/customers/", headers=auth("agent"),
                           json={"household_id": h["id"], "name": "周杰", "role": "tenant", "phone": "13912345678"})
    assert customer.status_code == 201, customer.json
    assert customer.json["result"]["phone"] == "139****5678"  # agents may not unmask
    bad = client.post("/api/v1/customers/", headers=auth("agent"), json={"household_id": h["id"], "role": "boss"})
    assert {p["field"] for p in bad.json["problems"]} == {"name", "role"}
    detail = client.get(f"/api/v1/households/{h['id']}", headers=auth("supervisor")).json["result"]
    assert detail["customers"][0]["phone"] == "13912345678"


def test_demo_project_is_idempotent(app_ctx, project):
    from app.services.intake.events import ensure_demo_project

    before = db.session.query(Household).count()
    assert before == 24
    ensure_demo_project()
    assert db.session.query(Household).count() == before
    assert project.policy_profile == "P000-3"
    assert all(h.file_no == f"CY-{h.building}-{h.room}" for h in project.households)


def test_a_failing_follow_up_leaves_the_event_recorded_and_visible(client, auth, project):
    from app.signals import service_event_recorded

    def broken(sender, event, **_):
        raise RuntimeError("no diagram")

    service_event_recorded.connect(broken)
    try:
        response = post(client, auth("agent"), project="cuiyuan", building="1", room="101", category="repair",
                        content="x")
    finally:
        service_event_recorded.disconnect(broken)
    assert response.status_code == 201, response.json
    assert response.json["result"]["extra"]["follow_up_error"] == "RuntimeError: no diagram"
    assert db.session.query(ServiceEvent).count() == 1


def test_openapi_documents_the_intake_endpoints(client, auth):
    paths = client.get("/api/v1/_openapi", headers=auth("agent")).json["paths"]
    for path in ["/service-events/", "/service-events/{event_id}", "/service-events/{event_id}/complete",
                 "/households/", "/households/{household_id}", "/customers/", "/work-orders/",
                 "/work-orders/import"]:
        assert "/api/v1" + path in paths, path
    assert "post" in paths["/api/v1/service-events/"] and "post" in paths["/api/v1/work-orders/import"]


def test_amb34_a_second_report_of_an_open_matter_joins_its_case(client, auth, project, signals):
    """AMB-34: same household + category + subject tag while the first report is open → one case."""
    h = household()
    first = post(client, auth("agent"), project="cuiyuan", household_id=h.id, category="complaint",
                 severity="MINOR", subject="噪音", source="a", content="楼上装修噪音").json["result"]
    second = post(client, auth("agent"), project="cuiyuan", household_id=h.id, category="complaint",
                  severity="MINOR", subject="噪音", source="d", content="电话又反映装修噪音")
    assert second.status_code == 201, second.json
    second = second.json["result"]
    assert (second["status"], second["duplicate_of"]) == ("duplicate", first["id"])
    assert signals["recorded"] == [(first["id"], "received")]  # the duplicate starts no flow of its own
    other = post(client, auth("agent"), project="cuiyuan", household_id=h.id, category="complaint",
                 severity="MINOR", subject="漏水", content="another matter").json["result"]
    assert other["duplicate_of"] is None and other["status"] == "received"
    refused = client.post(f"/api/v1/service-events/{second['id']}/complete", headers=auth("agent"), json={})
    assert refused.status_code == 409 and f"#{first['id']}" in refused.json["message"]
    client.post(f"/api/v1/service-events/{first['id']}/complete", headers=auth("agent"), json={})
    closed = client.get(f"/api/v1/service-events/{second['id']}", headers=auth("agent")).json["result"]
    assert closed["status"] == "closed"
    # once the case is closed, the same matter again is a new case (a repeat, counted by FLOW-17)
    again = post(client, auth("agent"), project="cuiyuan", household_id=h.id, category="complaint",
                 severity="MINOR", subject="噪音", content="又有噪音").json["result"]
    assert again["duplicate_of"] is None and again["status"] == "received"
    # FLOW-17: the matter's 2nd case reaches P000-3's repeat threshold (complaints ≥2): supervisors and the
    # project head are told at once; another matter of that household is no repeat
    assert again["extra"]["repeat_count"] == 2 and "repeat_count" not in other["extra"]
    [repeat] = [n for n in signals["notify"] if n["subject"].startswith("重复投诉")]
    assert repeat["roles"] == ["Supervisor", "Manager"] and "噪音 ×2" in repeat["subject"]
    assert repeat["link"] == f"/serviceeventview/show/{again['id']}"
