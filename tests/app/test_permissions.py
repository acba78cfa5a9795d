"""Who may do what: every role against every API endpoint and page.

The expected matrix comes from app/security.py (ROLE_PERMISSIONS; Admin may do everything);
the spot checks at the bottom encode the product intent independently of that table.
Requests use harmless bodies (unknown ids, empty diagrams) so an allowed call answers
404/409/422 without changing anything; "allowed" means neither 401 nor 403.
"""
from __future__ import annotations

import pytest

from app.security import ROLE_PERMISSIONS, ROLES

from .conftest import ROLE_USERS, browser_login

NO_TASK = "00000000-0000-0000-0000-000000000000"

# (name, method, path, json body, (resource, action) it needs)
API = [
    ("list tasks", "GET", "/api/v1/tasks/", None, ("Task", "read")),
    ("claim", "POST", f"/api/v1/tasks/{NO_TASK}/claim", None, ("Task", "work")),
    ("complete", "POST", f"/api/v1/tasks/{NO_TASK}/complete", {"data": {}}, ("Task", "work")),
    ("reassign", "POST", f"/api/v1/tasks/{NO_TASK}/reassign", {"to": "agent", "reason": "leave"},
     ("Task", "reassign")),
    ("list instances", "GET", "/api/v1/instances/", None, ("ProcessInstance", "read")),
    ("start", "POST", "/api/v1/instances/", {"process": "no_such_process"}, ("ProcessInstance", "start")),
    ("cancel", "POST", "/api/v1/instances/999999/cancel", {"reason": "duplicate"}, ("ProcessInstance", "cancel")),
    ("list models", "GET", "/api/v1/process-models/", None, ("ProcessModel", "read")),
    ("validate", "POST", "/api/v1/process-models/validate", {}, ("ProcessModel", "deploy")),
    ("deploy", "POST", "/api/v1/process-models/no_such_model/deploy", {}, ("ProcessModel", "deploy")),
    ("diff", "GET", "/api/v1/process-models/no_such_model/diff?a=1&b=2", None, ("ProcessModel", "read")),
    ("migration preview", "GET", "/api/v1/process-models/no_such_model/migration", None, ("ProcessModel", "migrate")),
    ("migrate", "POST", "/api/v1/process-models/no_such_model/migrate", {"instance_ids": []},
     ("ProcessModel", "migrate")),
    ("list events", "GET", "/api/v1/events/", None, ("EngineEvent", "read")),
    ("inbox page", "GET", "/api/v1/inbox/?scope=roles", None, ("Task", "read")),
    ("inbox counts", "GET", "/api/v1/inbox/counts", None, ("Task", "read")),
    ("team workload", "GET", "/api/v1/inbox/workload", None, ("Task", "reassign")),
    ("read draft", "GET", f"/api/v1/inbox/drafts/{NO_TASK}", None, ("Task", "work")),
    ("print visit record", "GET", "/api/v1/visit-forms/record/999999.pdf", None, ("VisitForm", "print")),
    ("retained records", "GET", "/api/v1/retention/records", None, ("Retention", "read")),
    ("file a record", "POST", "/api/v1/retention/records", {"record_class": "none"}, ("Retention", "file")),
    ("print sign-out sheet", "GET", "/api/v1/visit-forms/signout.pdf?project=none&period=2024-01", None,
     ("VisitForm", "print")),
    ("kpis", "GET", "/api/v1/stats/kpis?period=2024-03", None, ("Statistics", "read")),
    ("start capa", "POST", "/api/v1/stats/capa", {"finding_key": "unqualified:x:0", "period": "2024-03"},
     ("Statistics", "capa")),
    ("publish theme", "POST", "/api/v1/stats/themes", {"quarter": "bad", "theme": ""}, ("Statistics", "manage")),
    ("survey answers", "POST", "/api/v1/stats/surveys/999999/responses", {}, ("Statistics", "survey")),
]

# (name, path, needed, text only the permitted page shows)
PAGES = [
    ("inbox", "/inbox/", ("Task", "read"), 'id="my-tasks"'),
    ("team workload page", "/inbox/team", ("Task", "reassign"), 'id="workload-people"'),
    ("print page", "/print/", ("VisitForm", "print"), 'id="signout-form"'),
    ("retention desk", "/retention/", ("Retention", "read"), 'id="filings"'),
    ("models page", "/processmodelview/list/", ("ProcessModel", "read"), "followup_visit"),
    ("modeler", "/modeler/", ("ProcessModel", "read"), 'id="models"'),
    ("modeler versions", "/modeler/followup_visit/versions", ("ProcessModel", "read"), 'id="versions"'),
    ("modeler edit", "/modeler/followup_visit/edit", ("ProcessModel", "deploy"), 'id="modeler-origin"'),
    ("migration preview", "/modeler/followup_visit/migration", ("ProcessModel", "migrate"), 'id="migrate-form"'),
    ("instances page", "/instanceview/list/", ("ProcessInstance", "read"), 'id="filter_form"'),
    ("events page", "/engineeventview/list/", ("EngineEvent", "read"), 'id="filter_form"'),
    ("audit trail", "/audit/trail/list/", ("AuditEntry", "read"), 'id="filter_form"'),
    ("audit export", "/audit/export.csv?action=login", ("AuditEntry", "export"), "content_hash"),
    ("destruction register", "/audit/destruction-register/list/", ("Retention", "read"), 'id="filter_form"'),
    ("file loans", "/audit/file-loans/list/", ("FileLoan", "read"), 'id="filter_form"'),
    ("dashboard", "/stats/?period=2024-03", ("Statistics", "read"), 'id="stats-filter"'),
    ("capa register", "/stats/capa-register/list/", ("Statistics", "read"), 'id="filter_form"'),
    ("periodic reports", "/stats/reports/list/", ("Statistics", "read"), 'id="filter_form"'),
]


def allowed(role: str, needed: tuple[str, str]) -> bool:
    return role == "Admin" or needed in ROLE_PERMISSIONS[role]


def call(client, method, path, body, headers):
    if method == "GET":
        return client.get(path, headers=headers)
    return client.post(path, json=body, headers=headers)


def test_the_matrix_covers_every_role():
    assert set(ROLES) == {"Admin", "ProcessOwner", "Supervisor", "Agent", "DepartmentHead", "Manager", "VP",
                          "QualityDept", "Archivist", "Auditor"}


@pytest.mark.parametrize("role", ROLES)
def test_api_matrix(client, auth, role):
    headers = auth(ROLE_USERS[role])
    wrong = []
    for name, method, path, body, needed in API:
        response = call(client, method, path, body, headers)
        expected = allowed(role, needed)
        if response.status_code == 500:
            wrong.append(f"{name}: 500 {response.data[:200]!r}")
        elif expected and response.status_code in (401, 403):
            wrong.append(f"{name}: expected allowed, got {response.status_code}")
        elif not expected and response.status_code != 403:
            wrong.append(f"{name}: expected 403, got {response.status_code}")
    assert not wrong, f"{role}: " + "; ".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_page_matrix(app_ctx, role):
    client = browser_login(app_ctx.test_client(), ROLE_USERS[role])
    wrong = []
    for name, path, needed, marker in PAGES:
        response = client.get(path)
        body = response.get_data(as_text=True)
        if allowed(role, needed):
            if response.status_code != 200 or marker not in body:
                wrong.append(f"{name}: expected the page, got {response.status_code}")
        else:
            # FAB answers 403 to a signed-in user lacking the permission; the page is not shown.
            if response.status_code != 403 or marker in body:
                wrong.append(f"{name}: expected 403 without the page, got {response.status_code}")
    assert not wrong, f"{role}: " + "; ".join(wrong)


def test_pages_redirect_anonymous_users_to_login(client):
    for _name, path, _needed, marker in PAGES:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
        assert marker not in response.get_data(as_text=True)


def test_api_without_credentials_is_401(client):
    for name, method, path, body, _needed in API:
        assert call(client, method, path, body, {}).status_code == 401, name


def test_browser_session_works_for_the_api(app_ctx):
    client = browser_login(app_ctx.test_client(), "auditor")
    assert client.get("/api/v1/events/").status_code == 200
    assert client.post(f"/api/v1/tasks/{NO_TASK}/claim").status_code == 403


# ---------------------------------------------------------------- product intent, independent of the table

def status(client, headers, name):
    _n, method, path, body, _needed = next(e for e in API if e[0] == name)
    return call(client, method, path, body, headers).status_code


def test_auditor_reads_the_trail_but_changes_nothing(client, auth):
    headers = auth("auditor")
    for name in ("list events", "list tasks", "list instances", "list models"):
        assert status(client, headers, name) == 200, name
    for name in ("complete", "claim", "start", "deploy", "validate", "cancel", "reassign", "migrate"):
        assert status(client, headers, name) == 403, name


def test_agent_works_tasks_but_cannot_deploy_or_read_events(client, auth):
    headers = auth("agent")
    assert status(client, headers, "claim") == 404  # allowed; no such task
    assert status(client, headers, "complete") == 404
    assert status(client, headers, "start") == 404  # allowed; no such process
    for name in ("deploy", "validate", "list events", "cancel", "reassign"):
        assert status(client, headers, name) == 403, name


def test_process_owner_deploys_but_does_not_work_tasks(client, auth):
    headers = auth("processowner")
    assert status(client, headers, "validate") == 422  # allowed; the body has no diagram
    assert status(client, headers, "deploy") == 422
    assert status(client, headers, "migration preview") == 404  # allowed; no such model
    for name in ("claim", "complete", "list tasks", "reassign", "cancel", "list events"):
        assert status(client, headers, name) == 403, name


def test_supervisor_reassigns_and_cancels(client, auth):
    headers = auth("supervisor")
    assert status(client, headers, "reassign") == 404
    assert status(client, headers, "cancel") == 404
    assert status(client, headers, "deploy") == 403
