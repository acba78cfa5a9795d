"""The modeler in a real browser (Playwright driving Debian's chromium), on a live server of its own.

The process owner opens the follow-up visit diagram, renames a task and changes a timer in the
properties panel, tries to deploy a broken version and sees the errors on the diagram and in the list,
fixes it and deploys; a new instance starts on the new version while an older one stays on the old.
Its own database (a fresh one of the session's backend), so the shipped diagram's new version does not
leak into the other tests.
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select
from werkzeug.serving import make_server

from app.cli import init
from app.extensions import db
from workflows.models import HumanTask, ProcessInstance, ProcessVersion

from .conftest import PASSWORD, make_app

CHROMIUM = "/usr/bin/chromium"
BUNDLE = Path(__file__).resolve().parents[2] / "app" / "static" / "vendor" / "modeler" / "huifang-modeler.js"
RENAMED = "制定回访计划 Plan the visit and the appointment"


@pytest.fixture
def live_app(fresh_database_url):
    assert BUNDLE.exists(), "the modeler bundle is missing: run scripts/setup.sh"
    app = make_app(fresh_database_url)
    app.config["WTF_CSRF_ENABLED"] = True  # as in production: the page's JSON posts carry the token
    with app.app_context():
        upgrade()
        result = app.test_cli_runner().invoke(init, [])
        assert result.exit_code == 0, result.output
        sm = app.appbuilder.sm
        sm.add_user("chen.owner", "陈", "流程负责人", "chen.owner@test.local", sm.find_role("ProcessOwner"), PASSWORD)
        sm.add_user("zhang.sup", "张", "主管", "zhang.sup@test.local", sm.find_role("Supervisor"), PASSWORD)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _start_visit(app, household: str) -> dict:
    client = app.test_client()
    token = client.post("/api/v1/security/login", json={"username": "zhang.sup", "password": PASSWORD,
                                                        "provider": "db"}).json["access_token"]
    response = client.post("/api/v1/instances/", headers={"Authorization": f"Bearer {token}"}, json={
        "process": "followup_visit", "business_key": household, "data": {"household": household}})
    assert response.status_code == 201, response.json
    return response.json["result"]


def _click_uncovered(page, element_id: str) -> None:
    """Click a small shape where no flow or label of a neighbour lies over it (a person aims the same way)."""
    from playwright.sync_api import Error

    shape = page.locator(f"g.djs-element[data-element-id={element_id}]")
    for x, y in ((18, 18), (7, 18), (29, 18), (18, 6), (18, 30), (9, 9), (27, 9), (9, 27), (27, 27)):
        try:
            shape.click(position={"x": x, "y": y}, trial=True, timeout=300)
        except Error:
            continue
        shape.click(position={"x": x, "y": y})
        return
    raise AssertionError(f"{element_id} is covered everywhere")


def test_process_owner_edits_deploys_and_instances_keep_their_version(live_app):
    from playwright.sync_api import expect, sync_playwright

    app, base = live_app
    old = _start_visit(app, "1栋-101")
    assert old["version"] == 1

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        try:
            page.goto(f"{base}/login/")
            page.fill("#username", "chen.owner")
            page.fill("#password", PASSWORD)
            page.click("[type=submit]")
            page.goto(f"{base}/lang/en")

            # the modeler area lists the model; open it
            page.goto(f"{base}/modeler/")
            page.click("tr[data-key=followup_visit] >> text=Edit")
            page.wait_for_selector("body[data-modeler-ready=true]")
            expect(page.locator("#modeler-version")).to_have_text("v1")

            # rename a task in the properties panel
            page.click("g.djs-element[data-element-id=plan]")
            name = page.locator("#bio-properties-panel-name")
            expect(name).to_have_value("制定回访计划 Plan the visit")
            name.fill(RENAMED)
            expect(page.locator("g.djs-element[data-element-id=plan]")).to_contain_text("appointment")

            # change the due-soon timer: a duration, written unquoted first (the classic mistake)
            _click_uncovered(page, "visit_due_soon")
            expect(page.locator("#bio-properties-panel-huifang-timer-expression")).to_have_value("visit_remind_at")
            page.select_option("#bio-properties-panel-huifang-timer-kind", "timeDuration")
            page.fill("#bio-properties-panel-huifang-timer-expression", "PT1D")
            page.click("g.djs-element[data-element-id=lane_vp]")  # leave the field: the change is committed
            expect(page.locator("#modeler-dirty")).to_have_text("Unsaved changes")

            # deploying the broken version is refused: the errors are listed and marked on the diagram
            page.fill("#deploy-comment", "appointment in the plan; remind one day after the visit is assigned")
            page.click("#btn-deploy")
            problem = page.locator("#problems li[data-element-id=visit_due_soon]")
            expect(problem).to_contain_text('write "P1D"')
            expect(page.locator("#modeler-status")).to_contain_text("Not deployed")
            expect(page.locator(".huifang-problem-badge[data-element-id=visit_due_soon]")).to_be_visible()
            expect(page.locator("g.djs-element.huifang-problem[data-element-id=visit_due_soon]")).to_have_count(1)
            with app.app_context():
                assert db.session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == "followup_visit",
                                                                      ProcessVersion.number == 2)) is None

            # a click on the problem selects the element; fix it there and deploy
            problem.click()
            timer = page.locator("#bio-properties-panel-huifang-timer-expression")
            expect(timer).to_have_value("PT1D")
            timer.fill('"P1D"')
            page.click("g.djs-element[data-element-id=lane_vp]")
            page.click("#btn-validate")
            expect(page.locator("#modeler-status")).to_contain_text("No problems")
            expect(page.locator("#problems li")).to_have_count(0)
            page.click("#btn-deploy")
            expect(page.locator("#modeler-status")).to_contain_text("Deployed as version 2")
            expect(page.locator("#modeler-version")).to_have_text("v2")
        finally:
            if errors:
                page.screenshot(path="/tmp/modeler_browser_failure.png", full_page=True)
            browser.close()
        assert not errors, errors

    # a new instance starts on version 2 with the renamed task; the older one stays on version 1
    new = _start_visit(app, "1栋-102")
    assert new["version"] == 2
    with app.app_context():
        assert db.session.get(ProcessInstance, old["id"]).version.number == 1
        version = db.session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == "followup_visit",
                                                                 ProcessVersion.number == 2))
        assert version.created_by == "chen.owner" and version.comment.startswith("appointment in the plan")
        assert '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"P1D"</bpmn:timeDuration>' in version.bpmn_xml \
            or '"P1D"</bpmn:timeDuration>' in version.bpmn_xml
        tasks = {t.instance_id: t for t in db.session.scalars(select(HumanTask))}
        assert tasks[new["id"]].name == RENAMED and tasks[new["id"]].version_number == 2
        assert tasks[old["id"]].name == "制定回访计划 Plan the visit" and tasks[old["id"]].version_number == 1
        db.session.remove()
