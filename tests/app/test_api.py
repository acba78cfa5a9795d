"""The REST API end to end: a follow-up visit from start to finish, errors, models, the docs."""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.services.engine import load_bundle
from workflows.models import EngineEvent, HumanTask, ProcessInstance, ProcessVersion

from .conftest import PASSWORD, PLAN, VISIT, open_tasks, start_visit


@pytest.fixture
def sup(auth):
    return auth("supervisor")


def plan_task(client, headers, instance_id):
    [task] = open_tasks(client, headers, instance_id)
    assert task["bpmn_id"] == "plan"
    return task


def test_a_visit_from_start_to_archive(client, auth, sup):
    agent = auth("agent")
    instance = start_visit(client, sup)
    assert instance["status"] == "running" and instance["process"] == "followup_visit"
    plan = plan_task(client, sup, instance["id"])

    r = client.get(f"/api/v1/tasks/{plan['id']}", headers=sup)
    assert r.status_code == 200
    form = r.json["result"]["form"]
    assert form["schema"]["required"] == ["visitor", "method", "window_days"]
    assert "Plan the visit" in form["instructions"]

    r = client.post(f"/api/v1/tasks/{plan['id']}/complete", json={"data": PLAN}, headers=sup)
    assert r.status_code == 200, r.json
    # the plan is done: completing it again finds no open task
    r = client.post(f"/api/v1/tasks/{plan['id']}/complete", json={"data": PLAN}, headers=sup)
    assert r.status_code in (404, 409) and r.json["error"] in ("not_found", "conflict")

    r = client.get(f"/api/v1/instances/{instance['id']}", headers=sup)
    detail = r.json["result"]
    [visit] = detail["tasks"]
    assert visit["bpmn_id"] == "visit" and visit["assignee"] == "agent" and visit["due_at"]
    # FLOW-04: a non-interrupting due-soon reminder before the overdue escalation
    timers = {t["bpmn_id"]: t for t in detail["timers"]}
    assert sorted(timers) == ["visit_due_soon", "visit_overdue"]
    assert timers["visit_overdue"]["fire_at"] == visit["due_at"]
    assert timers["visit_due_soon"]["fire_at"] < visit["due_at"]

    r = client.get("/api/v1/tasks/?scope=mine", headers=agent)
    assert [t["id"] for t in r.json["result"]] == [visit["id"]]
    r = client.post(f"/api/v1/tasks/{visit['id']}/complete", json={"data": VISIT}, headers=agent)
    assert r.status_code == 200, r.json
    [review] = open_tasks(client, sup, instance["id"])
    r = client.post(f"/api/v1/tasks/{review['id']}/complete",
                    json={"data": {"qualified": True, "comment": "合格"}}, headers=sup)
    assert r.status_code == 200 and r.json["result"]["status"] == "completed"
    assert open_tasks(client, sup, instance["id"]) == []


def test_task_lists_scopes_and_paging(client, auth, sup):
    ids = [start_visit(client, sup, f"2栋-10{n}")["id"] for n in range(3)]
    r = client.get("/api/v1/tasks/?scope=roles&limit=2", headers=sup)
    assert r.status_code == 200 and r.json["count"] == 3 and len(r.json["result"]) == 2
    r = client.get("/api/v1/tasks/?scope=roles&limit=2&offset=2", headers=sup)
    assert r.json["count"] == 3 and len(r.json["result"]) == 1

    first = plan_task(client, sup, ids[0])
    assert client.post(f"/api/v1/tasks/{first['id']}/claim", headers=sup).status_code == 200
    counts = {scope: client.get(f"/api/v1/tasks/?scope={scope}", headers=sup).json["count"]
              for scope in ("mine", "roles", "all")}
    assert counts == {"mine": 1, "roles": 2, "all": 3}
    # the agent's role has nothing yet
    assert client.get("/api/v1/tasks/", headers=auth("agent")).json["count"] == 0
    assert client.get("/api/v1/tasks/?process=no_such", headers=sup).json["count"] == 0

    r = client.get("/api/v1/tasks/?scope=everything", headers=sup)
    assert r.status_code == 422 and r.json["problems"][0]["field"] == "scope"
    assert client.get("/api/v1/tasks/?limit=ten", headers=sup).status_code == 422

    r = client.get("/api/v1/instances/?status=running&limit=2", headers=sup)
    assert r.json["count"] == 3 and len(r.json["result"]) == 2
    r = client.get("/api/v1/instances/?business_key=2栋-101&process=followup_visit", headers=sup)
    assert [i["id"] for i in r.json["result"]] == [ids[1]]


def test_invalid_form_data_changes_nothing(client, sup):
    instance = start_visit(client, sup)
    plan = plan_task(client, sup, instance["id"])
    db.session.expire_all()
    lock = db.session.get(ProcessInstance, instance["id"]).lock_version
    events = db.session.scalar(select(func.count()).select_from(EngineEvent))

    r = client.post(f"/api/v1/tasks/{plan['id']}/complete",
                    json={"data": {**PLAN, "window_days": 0}}, headers=sup)
    assert r.status_code == 422, r.json
    assert r.json["error"] == "invalid_form_data"
    assert [p["field"] for p in r.json["problems"]] == ["window_days"]
    r = client.post(f"/api/v1/tasks/{plan['id']}/complete", json={"data": {"method": "CARRIER_PIGEON"}},
                    headers=sup)
    assert r.status_code == 422
    # (the engine names only the first missing required field of a form)
    assert {p["field"] for p in r.json["problems"]} >= {"visitor", "method"}

    db.session.expire_all()
    assert db.session.get(ProcessInstance, instance["id"]).lock_version == lock
    assert db.session.get(HumanTask, plan["id"]) is not None
    assert db.session.scalar(select(func.count()).select_from(EngineEvent)) == events
    assert plan_task(client, sup, instance["id"])["id"] == plan["id"]


def test_claim_release_and_conflict(app_ctx, client, auth, sup):
    sm = app_ctx.appbuilder.sm
    if sm.find_user(username="supervisor2") is None:
        sm.add_user("supervisor2", "s2", "test", "s2@test.local", sm.find_role("Supervisor"), PASSWORD)
    other = auth("supervisor2")
    plan = plan_task(client, sup, start_visit(client, sup)["id"])

    r = client.post(f"/api/v1/tasks/{plan['id']}/claim", headers=sup)
    assert r.status_code == 200 and r.json["result"]["assignee"] == "supervisor"
    assert client.post(f"/api/v1/tasks/{plan['id']}/claim", headers=sup).status_code == 200  # idempotent
    r = client.post(f"/api/v1/tasks/{plan['id']}/claim", headers=other)
    assert r.status_code == 409 and r.json["error"] == "conflict"
    # the other supervisor may neither complete nor release it
    assert client.post(f"/api/v1/tasks/{plan['id']}/complete", json={"data": PLAN}, headers=other).status_code == 403
    assert client.post(f"/api/v1/tasks/{plan['id']}/release", headers=other).status_code == 403

    r = client.post(f"/api/v1/tasks/{plan['id']}/release", headers=sup)
    assert r.status_code == 200 and r.json["result"]["assignee"] is None
    r = client.post(f"/api/v1/tasks/{plan['id']}/claim", headers=other)
    assert r.status_code == 200 and r.json["result"]["assignee"] == "supervisor2"

    # a supervisor hands it to someone else, with a reason
    r = client.post(f"/api/v1/tasks/{plan['id']}/reassign", json={"to": "supervisor"}, headers=sup)
    assert r.status_code == 422 and r.json["problems"][0]["field"] == "reason"
    r = client.post(f"/api/v1/tasks/{plan['id']}/reassign", json={"to": "nobody", "reason": "x"}, headers=sup)
    assert r.status_code == 422 and r.json["problems"][0]["field"] == "to"
    r = client.post(f"/api/v1/tasks/{plan['id']}/reassign", json={"to": "supervisor", "reason": "on leave"},
                    headers=sup)
    assert r.status_code == 200 and r.json["result"]["assignee"] == "supervisor"


def test_unknown_things_are_404(client, sup):
    assert client.get("/api/v1/tasks/00000000-0000-0000-0000-000000000000", headers=sup).status_code == 404
    assert client.get("/api/v1/tasks/not-a-uuid", headers=sup).status_code == 404
    assert client.post("/api/v1/tasks/not-a-uuid/claim", headers=sup).status_code == 404
    assert client.get("/api/v1/instances/999999", headers=sup).status_code == 404
    r = client.post("/api/v1/instances/", json={"process": "no_such"}, headers=sup)
    assert r.status_code == 404 and r.json["error"] == "not_found"
    assert client.post("/api/v1/instances/", json={"version_id": 999999}, headers=sup).status_code == 404
    assert client.get("/api/v1/process-models/no_such/versions", headers=sup).status_code == 404
    assert client.get("/api/v1/process-models/versions/999999", headers=sup).status_code == 404


def test_cancel_needs_a_reason(client, sup):
    instance = start_visit(client, sup)
    r = client.post(f"/api/v1/instances/{instance['id']}/cancel", json={}, headers=sup)
    assert r.status_code == 422 and r.json["problems"][0]["field"] == "reason"
    r = client.post(f"/api/v1/instances/{instance['id']}/cancel", json={"reason": "   "}, headers=sup)
    assert r.status_code == 422
    r = client.post(f"/api/v1/instances/{instance['id']}/cancel", json={"reason": "duplicate entry"}, headers=sup)
    assert r.status_code == 200, r.json
    assert r.json["result"]["status"] == "cancelled" and r.json["result"]["end_reason"] == "duplicate entry"
    assert open_tasks(client, sup, instance["id"]) == []
    r = client.post(f"/api/v1/instances/{instance['id']}/cancel", json={"reason": "again"}, headers=sup)
    assert r.status_code == 409


@pytest.mark.parametrize("path", ["/api/v1/instances/", "/api/v1/tasks/00000000-0000-0000-0000-000000000000/complete",
                                  "/api/v1/instances/1/cancel", "/api/v1/process-models/validate",
                                  "/api/v1/tasks/00000000-0000-0000-0000-000000000000/reassign"])
def test_a_body_that_is_not_json_is_a_clear_4xx(client, auth, path):
    admin = auth("admin")
    for body, content_type in [("process=followup_visit", "application/x-www-form-urlencoded"),
                               ("{not json", "application/json"), ("[1, 2]", "application/json"),
                               ("", "text/plain")]:
        r = client.post(path, data=body, content_type=content_type, headers=admin)
        assert 400 <= r.status_code < 500, (body, r.status_code, r.data[:300])
        assert "JSON" in r.json["message"] or r.status_code == 404, r.json


def test_odd_values_never_give_500(client, sup, auth):
    auditor = auth("auditor")
    checks = [
        client.post("/api/v1/instances/", json={"process": "followup_visit", "data": [1]}, headers=sup),
        client.post("/api/v1/instances/", json={"process": 42}, headers=sup),
        client.post("/api/v1/instances/", json={"version_id": "abc"}, headers=sup),
        client.post("/api/v1/instances/", json={"process": "followup_visit", "data": {"__class__": 1}}, headers=sup),
        client.get("/api/v1/events/?instance_id=abc", headers=auditor),
        client.get("/api/v1/instances/?limit=-5", headers=sup),
        client.get("/api/v1/tasks/?offset=-5&limit=1000", headers=sup),
        client.post("/api/v1/tasks/00000000-0000-0000-0000-000000000000/complete", json={"data": "x"}, headers=sup),
    ]
    assert [r.status_code for r in checks if r.status_code >= 500] == [], [r.data[:200] for r in checks]
    assert all(r.status_code < 500 for r in checks)


def test_models_versions_and_xml(client, auth, sup):
    owner = auth("processowner")
    start_visit(client, sup, "3栋-101")
    start_visit(client, sup, "3栋-102")
    r = client.get("/api/v1/process-models/", headers=owner)
    assert r.status_code == 200
    model = next(m for m in r.json["result"] if m["key"] == "followup_visit")
    assert model["running_instances"] == 2 and model["latest_version"] >= 1

    r = client.get("/api/v1/process-models/followup_visit/versions", headers=owner)
    versions = r.json["result"]
    assert versions[0]["number"] == 1 and versions[0]["created_by"] == "system"
    assert sum(v["running_instances"] for v in versions) == 2
    assert "visit" in versions[0]["user_tasks"] and "followup_visit.plan.schema.json" in versions[0]["forms"]

    r = client.get(f"/api/v1/process-models/versions/{versions[0]['id']}", headers=owner)
    result = r.json["result"]
    assert r.status_code == 200 and '<bpmn:process id="followup_visit"' in result["bpmn_xml"]
    assert result["form_schemas"]["followup_visit.plan.schema.json"]["required"][0] == "visitor"


def _broken_bundle():
    xml, forms = load_bundle("followup_visit")
    xml = xml.replace(b'value="Manager"', b'value="Janitor"')
    xml = xml.replace(b'followup_visit.review.schema.json"', b'missing.schema.json"')
    return xml, forms


def _version_count():
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(ProcessVersion))


def _assert_problems(response):
    assert response.status_code == 422, response.json
    assert response.json["error"] == "invalid_bpmn"
    problems = {p["element_id"]: p for p in response.json["problems"]}
    assert set(problems) == {"lane_manager", "review"}
    assert "Janitor" in problems["lane_manager"]["message"] and problems["lane_manager"]["line"] > 1
    assert "missing.schema.json" in problems["review"]["message"] and problems["review"]["line"] > 1


def test_a_broken_diagram_is_reported_and_never_deployed(client, auth):
    owner = auth("processowner")
    xml, forms = _broken_bundle()
    before = _version_count()

    r = client.post("/api/v1/process-models/validate", json={"bpmn_xml": xml.decode(), "forms": forms},
                    headers=owner)
    _assert_problems(r)

    upload = {"file": (io.BytesIO(xml), "followup_visit.bpmn"),
              "forms": [(io.BytesIO(json.dumps(v).encode()), k) for k, v in forms.items()]}
    r = client.post("/api/v1/process-models/validate", data=upload, content_type="multipart/form-data",
                    headers=owner)
    _assert_problems(r)

    upload = {"file": (io.BytesIO(xml), "followup_visit.bpmn"), "comment": "broken on purpose",
              "forms": [(io.BytesIO(json.dumps(v).encode()), k) for k, v in forms.items()]}
    r = client.post("/api/v1/process-models/followup_visit/deploy", data=upload,
                    content_type="multipart/form-data", headers=owner)
    _assert_problems(r)
    r = client.post("/api/v1/process-models/followup_visit/deploy", json={"bpmn_xml": "<not xml", "forms": {}},
                    headers=owner)
    assert r.status_code == 422 and r.json["problems"]
    assert _version_count() == before

    r = client.post("/api/v1/process-models/validate", data={"forms": (io.BytesIO(b"{}"), "x.json")},
                    content_type="multipart/form-data", headers=owner)
    assert r.status_code == 422 and r.json["problems"][0]["field"] == "file"
    bad_form = {"file": (io.BytesIO(xml), "f.bpmn"), "forms": (io.BytesIO(b"{oops"), "f.schema.json")}
    r = client.post("/api/v1/process-models/validate", data=bad_form, content_type="multipart/form-data",
                    headers=owner)
    assert r.status_code == 422 and r.json["problems"][0]["field"] == "forms"


def test_deploy_a_changed_diagram_as_version_2(client, auth):
    """On its own model key, so other tests keep starting version 1 of followup_visit."""
    owner = auth("processowner")
    xml, forms = load_bundle("followup_visit")
    xml = xml.replace(b"followup_visit\"", b"visit_copy\"")  # the process id and its processRef
    body = {"bpmn_xml": xml.decode(), "forms": forms, "comment": "first"}

    r = client.post("/api/v1/process-models/validate", json=body, headers=owner)
    assert r.status_code == 200 and r.json["valid"] is True and r.json["process_id"] == "visit_copy"
    r = client.post("/api/v1/process-models/visit_copy/deploy", json=body, headers=owner)
    assert r.status_code == 201, r.json
    assert r.json["result"]["number"] == 1
    r = client.post("/api/v1/process-models/visit_copy/deploy", json=body, headers=owner)
    assert r.json["result"]["number"] == 1  # same content: the same version

    changed = xml.replace("在期限内回访客户并记录。".encode(), "在期限内回访客户并如实记录。".encode())
    assert changed != xml
    files = {"file": (io.BytesIO(changed), "visit_copy.bpmn"), "comment": "clearer instructions",
             "forms": [(io.BytesIO(json.dumps(v).encode()), k) for k, v in forms.items()]}
    r = client.post("/api/v1/process-models/visit_copy/deploy", data=files, content_type="multipart/form-data",
                    headers=owner)
    assert r.status_code == 201, r.json
    assert r.json["result"]["number"] == 2 and r.json["result"]["created_by"] == "processowner"
    assert r.json["result"]["comment"] == "clearer instructions"

    r = client.get("/api/v1/process-models/visit_copy/versions", headers=owner)
    assert [v["number"] for v in r.json["result"]] == [1, 2]
    model = next(m for m in client.get("/api/v1/process-models/", headers=owner).json["result"]
                 if m["key"] == "visit_copy")
    assert model["latest_version"] == 2 and model["versions"] == 2


def test_openapi_document_lists_the_endpoints(client, auth):
    r = client.get("/api/v1/_openapi", headers=auth("agent"))
    assert r.status_code == 200
    paths = r.json["paths"]
    for path in ["/tasks/", "/tasks/{task_id}", "/tasks/{task_id}/claim", "/tasks/{task_id}/release",
                 "/tasks/{task_id}/complete", "/tasks/{task_id}/reassign", "/instances/",
                 "/instances/{instance_id}", "/instances/{instance_id}/cancel", "/process-models/",
                 "/process-models/validate", "/process-models/{key}/deploy", "/process-models/{key}/versions",
                 "/process-models/versions/{version_id}", "/events/"]:
        assert "/api/v1" + path in paths, (path, sorted(paths))
    assert "post" in paths["/api/v1/tasks/{task_id}/complete"]
    assert "requestBody" in paths["/api/v1/tasks/{task_id}/complete"]["post"]


def test_jwt_login(client):
    r = client.post("/api/v1/security/login", json={"username": "agent", "password": "wrong", "provider": "db"})
    assert r.status_code == 401
    r = client.post("/api/v1/security/login", json={"username": "nobody", "password": PASSWORD, "provider": "db"})
    assert r.status_code == 401
    r = client.post("/api/v1/security/login", json={"username": "agent", "password": PASSWORD, "provider": "db"})
    assert r.status_code == 200 and r.json["access_token"]
    bad = {"Authorization": "Bearer not-a-token"}
    assert client.get("/api/v1/tasks/", headers=bad).status_code in (401, 422)
