"""The browser side: log in, work a task from the inbox, switch the language."""
from __future__ import annotations

import html as html_lib
import json

from app.extensions import db
from workflows.models import HumanTask

from .conftest import PLAN, VISIT, browser_login, open_tasks, start_visit


def form_spec(page_html: str) -> dict:
    """The JSON the page's form renderer draws from."""
    raw = page_html.split('<script type="application/json" id="form-spec">')[1].split("</script>")[0]
    return json.loads(html_lib.unescape(raw))


def _visit_for_agent(client, auth):
    sup = auth("supervisor")
    instance = start_visit(client, sup, "1栋-201")
    [plan] = open_tasks(client, sup, instance["id"])
    assert client.post(f"/api/v1/tasks/{plan['id']}/complete", json={"data": PLAN}, headers=sup).status_code == 200
    [visit] = open_tasks(client, sup, instance["id"])
    assert visit["assignee"] == "agent"
    return visit


def test_agent_completes_a_visit_in_the_browser(app_ctx, client, auth):
    visit = _visit_for_agent(client, auth)
    browser = browser_login(app_ctx.test_client(), "agent")
    browser.get("/lang/en")

    inbox = browser.get("/inbox/").get_data(as_text=True)
    assert f"/inbox/task/{visit['id']}" in inbox and "1栋-201" in inbox

    page = browser.get(f"/inbox/task/{visit['id']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    # the browser draws the fields from the schema and UI hints embedded in the page
    spec = form_spec(html)
    for field in ("visited_at", "satisfied", "summary", "customer_signed"):
        assert field in spec["schema"]["properties"]
    assert spec["ui"]["summary"]["ui:widget"] == "textarea"
    assert "Visit the customer before the deadline" in html

    form = {"visited_at": "2024-03-05T10:00", "satisfied": "true", "customer_signed": "true", "visitor_signed": "true",
            "summary": ""}
    page = browser.post(f"/inbox/task/{visit['id']}", data=form)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    # the error is the summary field's, and the other values are kept (date-times in local time)
    spec = form_spec(html)
    assert set(spec["errors"]) == {"summary"}
    assert spec["values"]["visited_at"] == "2024-03-05T10:00" and spec["values"]["satisfied"] is True
    db.session.expire_all()
    assert db.session.get(HumanTask, visit["id"]) is not None

    page = browser.post(f"/inbox/task/{visit['id']}", data={**form, "summary": VISIT["summary"]})
    assert page.status_code == 302 and page.headers["Location"].endswith("/inbox/")
    db.session.expire_all()
    assert db.session.get(HumanTask, visit["id"]) is None
    inbox = browser.get("/inbox/").get_data(as_text=True)
    assert f"/inbox/task/{visit['id']}" not in inbox

    # the task is gone: its page sends the agent back to the inbox
    page = browser.get(f"/inbox/task/{visit['id']}")
    assert page.status_code == 302 and page.headers["Location"].endswith("/inbox/")


def test_someone_without_work_permission_cannot_post_a_task_form(app_ctx, client, auth):
    visit = _visit_for_agent(client, auth)
    auditor = browser_login(app_ctx.test_client(), "auditor")
    assert auditor.get(f"/inbox/task/{visit['id']}").status_code == 200  # may read
    page = auditor.post(f"/inbox/task/{visit['id']}", data={"summary": "x"})
    assert page.status_code == 403
    db.session.expire_all()
    assert db.session.get(HumanTask, visit["id"]) is not None


def test_language_switch(app_ctx):
    browser = browser_login(app_ctx.test_client(), "agent")
    assert browser.get("/lang/en").status_code == 302
    html = browser.get("/inbox/").get_data(as_text=True)
    assert "My tasks" in html and "我的任务" not in html
    assert browser.get("/lang/zh").status_code == 302
    html = browser.get("/inbox/").get_data(as_text=True)
    assert "我的任务" in html


def test_task_forms_are_csrf_protected(app_ctx, client, auth):
    visit = _visit_for_agent(client, auth)
    browser = browser_login(app_ctx.test_client(), "agent")
    app_ctx.config["WTF_CSRF_ENABLED"] = True
    try:
        html = browser.get(f"/inbox/task/{visit['id']}").get_data(as_text=True)
        token = html.split('name="csrf_token" value="')[1].split('"')[0]
        assert token
        data = {"visited_at": "2024-03-05T10:00", "satisfied": "true", "visitor_signed": "true",
                "summary": VISIT["summary"]}
        assert browser.post(f"/inbox/task/{visit['id']}", data=data).status_code == 400
        assert browser.post(f"/inbox/task/{visit['id']}/release").status_code == 400
        db.session.expire_all()
        assert db.session.get(HumanTask, visit["id"]) is not None
        # the API (JWT) is not subject to the form token
        assert client.get("/api/v1/tasks/", headers=auth("agent")).status_code == 200
        page = browser.post(f"/inbox/task/{visit['id']}", data={**data, "csrf_token": token})
        assert page.status_code == 302
    finally:
        app_ctx.config["WTF_CSRF_ENABLED"] = False
    db.session.expire_all()
    assert db.session.get(HumanTask, visit["id"]) is None
