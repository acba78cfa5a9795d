"""The modeler (issue 7): validation, upload of any file, drafts, deploy, versions, diff, migration."""
from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.audit import AuditEntry
from app.models.modeler import ProcessDraft
from app.services.engine import load_bundle
from workflows.models import EngineEvent, HumanTask, ProcessInstance, ProcessVersion

from .conftest import PLAN, VISIT, browser_login, open_tasks

FOREIGN = Path(__file__).resolve().parents[1] / "fixtures" / "foreign"


def _key(prefix: str = "mv") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _bundle(key: str) -> tuple[str, dict]:
    """followup_visit under its own process id and key, so other tests keep their versions."""
    xml, forms = load_bundle("followup_visit")
    return xml.replace(b'followup_visit"', f'{key}"'.encode()).decode("utf-8"), forms


def _owner(app_ctx):
    client = browser_login(app_ctx.test_client(), "processowner")
    client.get("/lang/en")  # the pages' English texts are asserted
    return client


def _problems(response) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for problem in response.json["problems"]:
        out.setdefault(problem.get("element_id") or problem.get("field") or "", []).append(problem["message"])
    return out


def _versions(key: str) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(ProcessVersion).join(ProcessVersion.model)
                             .where(ProcessVersion.model.has(key=key)))


def _deploy(owner, key, xml, forms, comment="test"):
    return owner.post(f"/modeler/{key}/deploy", json={"bpmn_xml": xml, "forms": forms, "comment": comment})


# ---------------------------------------------------------------- validation

def _broken(xml: str) -> str:
    """One diagram with one of every kind of problem."""
    role_vp = '<spiffworkflow:property name="role" value="VP"/>'
    review_form = '<spiffworkflow:property name="formJsonSchemaFilename" value="followup_visit.review.schema.json"/>'
    assert role_vp in xml and review_form in xml
    xml = xml.replace(role_vp, "")  # a lane without a role
    xml = xml.replace(review_form, "")  # a user task without a form
    xml = xml.replace("<bpmn:timeDate>visit_due</bpmn:timeDate>", "<bpmn:timeDuration>PT1D</bpmn:timeDuration>")
    xml = xml.replace("<bpmn:timeDate>visit_remind_at</bpmn:timeDate>",
                      "<bpmn:timeDuration>\"P3X\"</bpmn:timeDuration>")  # quoted, but no duration
    xml = xml.replace("<bpmn:script>attempts = 0", "<bpmn:script>import os\nattempts = 0", 1)  # compute_deadline
    xml = xml.replace("<bpmn:script>reminded_at = now().isoformat()", "<bpmn:script>reminded_at = now(", 1)  # remind
    xml = xml.replace('name="合格? Qualified?" default="unqualified_flow"', 'name="合格? Qualified?"')
    xml = xml.replace('<bpmn:startEvent id="start"', '<bpmn:bogusElement id="bogus"/><bpmn:startEvent id="start"', 1)
    return xml


def test_validation_reports_every_problem_with_its_element(app_ctx):
    owner = _owner(app_ctx)
    key = _key()
    xml, forms = _bundle(key)
    r = owner.post("/modeler/validate", json={"bpmn_xml": xml, "forms": forms})
    assert r.status_code == 200 and r.json == {"valid": True, "problems": []}

    r = owner.post("/modeler/validate", json={"bpmn_xml": _broken(xml), "forms": forms})
    assert r.status_code == 200 and r.json["valid"] is False
    problems = _problems(r)
    assert "no role" in problems["lane_vp"][0]
    assert "has no form" in problems["review"][0]
    assert "not quoted" in problems["visit_overdue"][0] and '"P1D"' in problems["visit_overdue"][0]
    assert "neither an ISO 8601 duration" in problems["visit_due_soon"][0]
    assert "imports os" in problems["compute_deadline"][0]
    assert "does not compile" in problems["remind"][0]
    assert "without a condition" in problems["qualified_gateway"][0]
    assert any("XSD" in m for messages in problems.values() for m in messages)  # the unknown element
    assert all(p.get("element_id") and p.get("line") for p in r.json["problems"])

    # Deploying it is refused with the same problems, and nothing is deployed.
    r = _deploy(owner, key, _broken(xml), forms)
    assert r.status_code == 422 and set(_problems(r)) >= {"lane_vp", "review", "visit_overdue", "qualified_gateway"}
    assert _versions(key) == 0


def test_the_api_validates_and_deploys_with_a_reason(client, auth):
    owner = auth("processowner")
    key = _key()
    xml, forms = _bundle(key)
    r = client.post("/api/v1/process-models/validate", json={"bpmn_xml": _broken(xml), "forms": forms}, headers=owner)
    assert r.status_code == 422 and "lane_vp" in _problems(r)
    r = client.post(f"/api/v1/process-models/{key}/deploy", json={"bpmn_xml": xml, "forms": forms}, headers=owner)
    assert r.status_code == 422 and "comment" in _problems(r)
    r = client.post(f"/api/v1/process-models/{key}/deploy", json={"bpmn_xml": xml, "forms": forms,
                                                                 "comment": "first"}, headers=owner)
    assert r.status_code == 201 and r.json["result"]["comment"] == "first"


# ---------------------------------------------------------------- upload: never a server error

EXPECTED = {
    # file: (opens in the modeler, element ids or message parts the problems must name)
    "camunda_export.bpmn": (True, ["Lane_clerk", "Lane_manager", "Task_review", "Timer_remind", "Flow_yes",
                                   "Gateway_ok", "camunda:formKey"]),
    "signavio_export.bpmn": (True, ["sid-process-service", "no executable process", "sid-lane-desk"]),
    "trisotech_export.bpmn": (True, ["_proc_field", "several executable processes", "_ut_plan", "_st_log",
                                     "text/javascript"]),
    "no_layout.bpmn": (True, []),
    "gb18030_declared_utf8.bpmn": (True, []),
    "gbk_declared.bpmn": (True, []),
    "utf16_bom.bpmn": (True, []),
    "truncated.bpmn": (False, ["not well-formed XML"]),
    "not_bpmn.xml": (False, ["root element must be bpmn:definitions"]),
    "binary.bpmn": (False, ["nor GB18030"]),
    "empty.bpmn": (False, ["is empty"]),
    "xxe.bpmn": (False, ["external entity"]),
}


# Files without diagram positions (BPMN DI): the hand-written one, and the encoding samples (written without)
NO_LAYOUT = {"no_layout.bpmn", "gb18030_declared_utf8.bpmn", "gbk_declared.bpmn", "utf16_bom.bpmn"}


def test_every_foreign_fixture_is_covered():
    assert {p.name for p in FOREIGN.iterdir()} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_upload_answers_problems_never_a_server_error(app_ctx, name):
    owner = _owner(app_ctx)
    opens, expected = EXPECTED[name]
    data = (FOREIGN / name).read_bytes()
    two_step_forms = {p.name: json.loads(p.read_text()) for p in FOREIGN.parent.glob("*.schema.json")}
    r = owner.post("/modeler/upload", data={"file": (io.BytesIO(data), name), "forms": json.dumps(two_step_forms)},
                   content_type="multipart/form-data")
    assert r.status_code == 200, r.data[:300]
    body = r.json
    assert (body["bpmn_xml"] is not None) is opens
    text = json.dumps(body["problems"], ensure_ascii=False)
    for part in expected:
        assert part in text, (part, text)
    if opens:  # what the engine cannot execute is named by element
        assert all(p.get("element_id") for p in body["problems"]), body["problems"]
    if name in ("gb18030_declared_utf8.bpmn", "gbk_declared.bpmn", "utf16_bom.bpmn"):
        # decoded, re-declared as UTF-8, and valid: the Chinese names survive
        assert body["bpmn_xml"].startswith('<?xml version="1.0" encoding="UTF-8"?>')
        assert "回访员 Agent" in body["bpmn_xml"] and body["problems"] == [], body["problems"]
    if name == "gb18030_declared_utf8.bpmn":
        assert "GB18030" in body["notes"][0]
    if opens:  # whether the page must lay it out first (no BPMN DI): said, never a problem
        layout = body["layout"]
        assert layout["needs_layout"] is (name in NO_LAYOUT) and layout["total"] > 0, layout
        if name == "no_layout.bpmn":
            assert sorted(layout["missing"]) == ["call", "call_late", "chase", "done", "given_up", "reached",
                                                 "review", "set_due", "start"]
    else:
        assert body["layout"] is None
    assert "root:" not in r.get_data(as_text=True)  # the XXE entity was never resolved

    # The REST API answers the same upload with 200 or its problems (422), never 500.
    api = owner.post("/api/v1/process-models/validate", data={"file": (io.BytesIO(data), name)},
                     content_type="multipart/form-data")
    assert api.status_code in (200, 422), api.data[:300]
    assert "root:" not in api.get_data(as_text=True)


def test_upload_without_a_file_is_a_clear_error(app_ctx):
    owner = _owner(app_ctx)
    r = owner.post("/modeler/upload", data={}, content_type="multipart/form-data")
    assert r.status_code == 422 and r.json["problems"][0]["field"] == "file"


def test_a_diagram_without_layout_validates_deploys_and_runs(app_ctx, client, auth):
    """No BPMN DI is no problem for the engine: the hand-written fixture validates, deploys and runs; its
    edit page opens it (the page lays it out before showing it, see the browser test)."""
    owner = _owner(app_ctx)
    xml = (FOREIGN / "no_layout.bpmn").read_text(encoding="utf-8")
    key = _key("nolayout")
    xml = xml.replace('"hand_written"', f'"{key}"')
    forms = {p.name: json.loads(p.read_text()) for p in FOREIGN.parent.glob("*.schema.json")}
    r = owner.post("/modeler/validate", json={"bpmn_xml": xml, "forms": forms})
    assert r.status_code == 200 and r.json == {"valid": True, "problems": []}
    assert _deploy(owner, key, xml, forms, comment="hand-written, no layout").status_code == 201
    page = owner.get(f"/modeler/{key}/edit").get_data(as_text=True)
    config = json.loads(page.split('id="modeler-config">')[1].split("</script>")[0].replace("<\\/", "</"))
    assert "bpmndi" not in config["xml"] and config["xml"].count('sourceRef="call"') == 1
    assert 'data-locale="en"' in page

    sup, agent = auth("supervisor"), auth("agent")
    r = client.post("/api/v1/instances/", headers=sup, json={"process": key, "business_key": "N-1", "data": {}})
    assert r.status_code == 201, r.json
    [call] = open_tasks(client, agent, r.json["result"]["id"])
    assert call["bpmn_id"] == "call" and call["due_at"]
    done = client.post(f"/api/v1/tasks/{call['id']}/complete", json={"data": {"result": "satisfied"}}, headers=agent)
    assert done.status_code == 200, done.json
    assert [t["bpmn_id"] for t in open_tasks(client, sup, r.json["result"]["id"])] == ["review"]


def test_layout_gaps_name_the_elements_without_a_shape():
    from app.services.modeling.modeler import layout_gaps

    shipped = Path(__file__).resolve().parents[2] / "bpmn" / "followup_visit.bpmn"
    xml = shipped.read_bytes()
    assert layout_gaps(xml).to_dict() == {"missing": [], "total": 25, "needs_layout": False}
    partial = xml.replace(b'bpmnElement="review"><dc:Bounds', b'bpmnElement="nowhere"><dc:Bounds')
    assert layout_gaps(partial).missing == ["review"]
    # a process the diagram does not show (e.g. a called one kept in the same file) is not counted
    other = b'<bpmn:process id="kept_aside"><bpmn:startEvent id="aside_start"/></bpmn:process>'
    extra = xml.replace(b"</bpmn:process>", b"</bpmn:process>" + other, 1)
    assert layout_gaps(extra).total == 25 and not layout_gaps(extra).needs_layout
    bare = (FOREIGN / "no_layout.bpmn").read_bytes()
    assert layout_gaps(bare).needs_layout and layout_gaps(bare).total == 9


# ---------------------------------------------------------------- drafts, deploy, audit

def test_draft_then_deploy_with_a_comment(app_ctx):
    owner = _owner(app_ctx)
    key = _key()
    xml, forms = _bundle(key)

    page = owner.get(f"/modeler/{key}/edit")
    assert page.status_code == 200 and "A new process model." in page.get_data(as_text=True)
    broken = _broken(xml)
    r = owner.post(f"/modeler/{key}/draft", json={"bpmn_xml": broken, "forms": forms})
    assert r.status_code == 200  # a draft may have problems
    html = owner.get(f"/modeler/{key}/edit").get_data(as_text=True)
    assert "Your draft, saved" in html and "bogusElement" in html
    r = owner.post(f"/modeler/{key}/draft", json={"bpmn_xml": 5})
    assert r.status_code == 422 and r.json["problems"][0]["field"] == "bpmn_xml"

    r = _deploy(owner, key, xml, forms, comment="  ")
    assert r.status_code == 422 and "comment" in _problems(r)
    r = _deploy(owner, key, broken, forms)
    assert r.status_code == 422 and _versions(key) == 0

    r = _deploy(owner, key, xml, forms, comment="first version of the copy")
    assert r.status_code == 201 and r.json["created"] is True and r.json["result"]["number"] == 1
    db.session.expire_all()
    assert db.session.scalar(select(ProcessDraft).where(ProcessDraft.model_key == key)) is None  # deployed: gone
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "process_deployed",
                                                       AuditEntry.details["process"].as_string() == key))
    assert entry.actor == "processowner" and entry.details["comment"] == "first version of the copy"
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "process_draft_saved",
                                                      AuditEntry.details["process"].as_string() == key))
    event = db.session.scalar(select(EngineEvent).where(EngineEvent.kind == "version_deployed",
                                                        EngineEvent.detail["model"].as_string() == key))
    assert event.detail["comment"] == "first version of the copy"  # copied into the trail by the sealer

    r = _deploy(owner, key, xml, forms, comment="again")
    assert r.status_code == 200 and r.json["created"] is False and _versions(key) == 1

    download = owner.get(f"/modeler/version/{r.json['result']['id']}/download")
    assert download.status_code == 200 and download.data == xml.encode("utf-8")
    assert f"{key}.v1.bpmn" in download.headers["Content-Disposition"]


# ---------------------------------------------------------------- versions, diff, migration

def _v2(xml: str) -> str:
    """Rename the plan task, change the due-soon timer, add a documented step."""
    changed = xml.replace('name="制定回访计划 Plan the visit"', 'name="制定回访计划 Plan the visit (v2)"')
    changed = changed.replace("<bpmn:timeDate>visit_remind_at</bpmn:timeDate>",
                              "<bpmn:timeDate>visit_remind_at or visit_due</bpmn:timeDate>")
    assert changed.count("(v2)") == 1 and "visit_remind_at or visit_due" in changed
    return changed


def _start(client, headers, key, business_key):
    r = client.post("/api/v1/instances/", headers=headers, json={
        "process": key, "business_key": business_key, "data": {"household": business_key}})
    assert r.status_code == 201, r.json
    return r.json["result"]


def test_versions_diff_and_migration_refused_when_a_completed_task_changes(app_ctx, client, auth):
    owner_browser = _owner(app_ctx)
    owner, sup = auth("processowner"), auth("supervisor")
    key = _key()
    xml, forms = _bundle(key)
    assert _deploy(owner_browser, key, xml, forms, comment="v1").status_code == 201

    waiting = _start(client, sup, key, "A-1")  # still at "plan"
    planned = _start(client, sup, key, "A-2")
    [plan] = open_tasks(client, sup, planned["id"])
    assert client.post(f"/api/v1/tasks/{plan['id']}/complete", json={"data": PLAN}, headers=sup).status_code == 200

    r = _deploy(owner_browser, key, _v2(xml), forms, comment="clearer plan name, reminder falls back to due")
    assert r.status_code == 201 and r.json["result"]["number"] == 2

    # the diff, by version number
    r = client.get(f"/api/v1/process-models/{key}/diff?a=1&b=2", headers=owner)
    assert r.status_code == 200
    diff = r.json["result"]
    changed = {c["id"]: c for c in diff["tasks"]["changed"]}
    assert set(changed) == {"plan", "visit_due_soon"}
    assert changed["plan"]["changes"] == [{"property": "name", "before": "制定回访计划 Plan the visit",
                                           "after": "制定回访计划 Plan the visit (v2)"}]
    assert changed["visit_due_soon"]["changes"][0]["after"] == "timeDate: visit_remind_at or visit_due"
    assert diff["marks"]["a"]["plan"] == diff["marks"]["b"]["plan"] == "changed"
    assert not diff["tasks"]["added"] and not diff["flows"]["changed"] and not diff["identical"]
    assert client.get(f"/api/v1/process-models/{key}/diff?a=1&b=9", headers=owner).status_code == 404

    # the pages
    versions = owner_browser.get(f"/modeler/{key}/versions").get_data(as_text=True)
    assert "clearer plan name, reminder falls back to due" in versions and "processowner" in versions
    row_v1 = versions.split('data-number="1"')[1].split("</tr>")[0]
    assert '<td class="running">2</td>' in row_v1
    v1, v2 = (db.session.scalar(select(ProcessVersion.id).where(ProcessVersion.process_id == key,
                                                               ProcessVersion.number == n)) for n in (1, 2))
    page = owner_browser.get(f"/modeler/{key}/diff?a={v1}&b={v2}").get_data(as_text=True)
    assert 'data-change="changed" data-id="plan"' in page and "Plan the visit (v2)" in page

    # the preview: the waiting instance may move, the planned one may not (its completed plan task changed)
    r = client.get(f"/api/v1/process-models/{key}/migration?from=1", headers=owner)
    assert r.status_code == 200
    preview = {p["instance_id"]: p for p in r.json["result"]["instances"]}
    assert preview[waiting["id"]]["allowed"] is True
    assert any("plan" in change and "reset" in change for change in preview[waiting["id"]]["changes"])
    refused = preview[planned["id"]]
    assert refused["allowed"] is False
    assert any("(plan)" in reason and "completed" in reason and "bpmn_name" in reason for reason in refused["reasons"])
    db.session.expire_all()
    assert db.session.get(ProcessInstance, waiting["id"]).version_id == v1  # a preview changes nothing

    page = owner_browser.get(f"/modeler/{key}/migration?from={v1}").get_data(as_text=True)
    assert f'data-instance="{planned["id"]}"' in page and "Refused" in page

    # migrate both: one moves, one stays with its reason
    r = client.post(f"/api/v1/process-models/{key}/migrate", json={"instance_ids": [waiting["id"], planned["id"]]},
                    headers=owner)
    assert r.status_code == 200, r.json
    result = r.json["result"]
    assert [m["instance_id"] for m in result["migrated"]] == [waiting["id"]]
    assert [x["instance_id"] for x in result["refused"]] == [planned["id"]]
    db.session.expire_all()
    assert db.session.get(ProcessInstance, waiting["id"]).version_id == v2
    assert db.session.get(ProcessInstance, planned["id"]).version_id == v1
    [task] = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == waiting["id"])).all()
    assert task.name == "制定回访计划 Plan the visit (v2)" and task.version_number == 2 and task.role == "Supervisor"
    assert db.session.scalar(select(EngineEvent).where(EngineEvent.kind == "instance_migrated",
                                                       EngineEvent.instance_id == waiting["id"]))
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "instances_migrated",
                                                       AuditEntry.target_id == key))
    assert entry.details["migrated"] == [waiting["id"]] and str(planned["id"]) in entry.details["refused"]

    # the migrated instance goes on on version 2; the other one on version 1
    [plan2] = open_tasks(client, sup, waiting["id"])
    assert plan2["version"] == 2
    assert client.post(f"/api/v1/tasks/{plan2['id']}/complete", json={"data": PLAN}, headers=sup).status_code == 200
    [visit] = open_tasks(client, sup, waiting["id"])
    assert visit["bpmn_id"] == "visit" and visit["version"] == 2
    [visit_v1] = open_tasks(client, sup, planned["id"])
    assert visit_v1["version"] == 1

    # a second migration of the same instance is refused: it is on the newest version already
    r = client.post(f"/api/v1/process-models/{key}/migrate", json={"instance_ids": [waiting["id"]]}, headers=owner)
    assert r.json["result"]["refused"][0]["reasons"] == ["the instance already runs on version 2"]


def test_migration_refused_while_the_called_complaint_process_runs(app_ctx, client, auth):
    """followup_visit's complaint_handling call activity is STARTED while complaint_case runs inside the
    visit (its reply task open). A version that changes the call activity cannot take the instance over:
    the preview, the API and the page say why, nothing is written, and the instance goes on on its version."""
    owner_browser = _owner(app_ctx)
    owner, sup, agent = auth("processowner"), auth("supervisor"), auth("agent")
    key = _key()
    xml, forms = _bundle(key)
    assert _deploy(owner_browser, key, xml, forms, comment="v1").status_code == 201
    r = client.post("/api/v1/instances/", headers=sup, json={
        "process": key, "business_key": "C-1", "data": {"household": "C-1", "severity": None, "policy": {}}})
    assert r.status_code == 201, r.json
    instance = r.json["result"]

    def complete(headers, bpmn_id, data):
        [task] = [t for t in open_tasks(client, headers, instance["id"]) if t["bpmn_id"] == bpmn_id]
        r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}, headers=headers)
        assert r.status_code == 200, r.json

    complete(sup, "plan", PLAN)
    complete(agent, "visit", {**VISIT, "method": "HOME", "satisfied": False})
    complete(sup, "review", {"qualified": False, "comment": "不合格"})
    [reply] = open_tasks(client, sup, instance["id"])
    assert reply["bpmn_id"] == "reply" and reply["version"] == 1  # complaint_case runs inside the visit
    db.session.expire_all()
    row = db.session.get(ProcessInstance, instance["id"])
    v1, lock_version, state = row.version_id, row.lock_version, row.state

    renamed = xml.replace('name="投诉处理 Complaint handling"', 'name="投诉处理 Complaint handling (v2)"')
    assert renamed != xml
    r = _deploy(owner_browser, key, renamed, forms, comment="clearer name of the call")
    assert r.status_code == 201 and r.json["result"]["number"] == 2

    reason = "task '投诉处理 Complaint handling' (complaint_handling) is started and would change (bpmn_name)"
    r = client.get(f"/api/v1/process-models/{key}/migration?from=1", headers=owner)
    assert r.status_code == 200, r.json
    [preview] = r.json["result"]["instances"]
    assert preview["instance_id"] == instance["id"] and preview["allowed"] is False
    assert preview["reasons"] == [reason]
    page = owner_browser.get(f"/modeler/{key}/migration?from={v1}").get_data(as_text=True)
    row_html = page.split(f'data-instance="{instance["id"]}"')[1].split("</tr>")[0]
    assert "Refused" in row_html and "(complaint_handling) is started and would change" in row_html
    assert 'name="instance_id"' not in row_html  # nothing to tick

    r = client.post(f"/api/v1/process-models/{key}/migrate", json={"instance_ids": [instance["id"]]}, headers=owner)
    assert r.status_code == 200, r.json
    assert r.json["result"]["migrated"] == []
    assert r.json["result"]["refused"] == [{"instance_id": instance["id"], "reasons": [reason]}]
    r = owner_browser.post(f"/modeler/{key}/migrate", data={"instance_id": str(instance["id"])},
                           follow_redirects=True)
    assert f"Instance {instance['id']} stays: {reason}".replace("'", "&#39;") in r.get_data(as_text=True)

    db.session.expire_all()
    row = db.session.get(ProcessInstance, instance["id"])
    assert (row.version_id, row.lock_version, row.state) == (v1, lock_version, state)
    assert db.session.scalar(select(func.count()).select_from(EngineEvent).where(
        EngineEvent.kind == "instance_migrated", EngineEvent.instance_id == instance["id"])) == 0
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "instances_migrated",
                                                          AuditEntry.target_id == key)).all()
    assert len(entries) == 2 and all(e.details["refused"] == {str(instance["id"]): [reason]} for e in entries)

    # the instance goes on on version 1: the called process's reply, then its resolve task
    complete(sup, "reply", {"replied_at": "2024-03-05T11:00:00+08:00", "reply": "已联系业主"})
    assert [(t["bpmn_id"], t["version"]) for t in open_tasks(client, sup, instance["id"])] == [("resolve", 1)]


def test_the_modeler_area_links_the_policy_profiles(app_ctx):
    html = _owner(app_ctx).get("/modeler/").get_data(as_text=True)
    assert 'id="policy-link"' in html and "/policy/" in html and "Edit policy profiles" in html
    assert 'data-key="followup_visit"' in html
