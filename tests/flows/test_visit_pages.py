"""The visit pages and who may do what with visits (FAB permissions)."""
from __future__ import annotations

from tests.app.conftest import browser_login

from .helpers import PLAN, complete, start, tasks


def test_visit_and_form_pages_list_what_the_flows_recorded(flows, app_ctx, client, auth):
    sup = auth("supervisor")
    v = start(client, sup, category="decoration", household="7栋-702")
    complete(client, sup, tasks(client, sup, v["instance_id"])["plan"], PLAN)
    browser = browser_login(app_ctx.test_client(), "agent")
    html = browser.get("/visits/list/").get_data(as_text=True)
    assert "7栋-702" in html and "decoration" in html
    html = browser.get("/visit-forms/list/").get_data(as_text=True)
    assert f"demo-{flows.now().year}-00001" in html


def test_only_supervisors_and_managers_start_merge_and_void(flows, client, auth):
    agent = auth("agent")
    assert client.get("/api/v1/visits/", headers=agent).status_code == 200
    r = client.post("/api/v1/visits/", json={"category": "help", "household": "1栋-101"}, headers=agent)
    assert r.status_code == 403
    assert client.post("/api/v1/visits/merge", json={"keep": 1, "merge": [2]}, headers=agent).status_code == 403
    r = client.post("/api/v1/visits/", json={"category": "nope", "household": ""}, headers=auth("manager"))
    assert r.status_code == 422 and [p["field"] for p in r.json["problems"]] == ["category", "household"]
