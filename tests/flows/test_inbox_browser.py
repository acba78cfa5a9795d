"""Issue 4 in a real browser (Playwright driving Debian's chromium): a visitor finds a due task,
fills the visit form with one invalid field, sees the error in place, saves a draft, fixes it,
completes it and downloads the PDF; the supervisor then reviews it from the role pool."""
from __future__ import annotations

import io
import threading

import pytest
from pypdf import PdfReader
from werkzeug.serving import make_server

from app.extensions import db
from app.models.visit import Visit
from tests.app.conftest import PASSWORD

from .helpers import PLAN, start, tasks, complete

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def live_server(app):  # noqa: F811  (the session app of tests/app/conftest.py)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _login(browser, base: str, username: str):
    context = browser.new_context(accept_downloads=True, locale="en-US")
    page = context.new_page()
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{base}/lang/en")
    return page


def test_visitor_works_a_visit_and_the_supervisor_reviews_it(project, client, auth, app_ctx, live_server, browser):
    sup = auth("supervisor")
    key = project("web", "P000-3")
    v = start(client, sup, category="repair", project=key, household="8栋-801")
    complete(client, sup, tasks(client, sup, v["instance_id"])["plan"], PLAN)
    visit_task = tasks(client, sup, v["instance_id"])["visit"]

    page = _login(browser, live_server, "agent")
    # the navbar counts the visitor's tasks; the inbox row shows household, category and deadline state
    page.goto(f"{live_server}/inbox/")
    assert int(page.text_content("#inbox-count-mine")) >= 1
    row = page.locator(f"tr[data-task='{visit_task['id']}']")
    assert "8栋-801" in row.text_content() and "repair" in row.text_content()
    assert row.get_attribute("data-urgency") in ("soon", "today", "")
    page.select_option("select[name=category]", "repair")
    with page.expect_navigation():
        page.click("#inbox-filter button[type=submit]")
    assert page.locator(f"tr[data-task='{visit_task['id']}']").count() == 1
    page.select_option("select[name=category]", "complaint")
    with page.expect_navigation():
        page.click("#inbox-filter button[type=submit]")
    assert page.locator(f"tr[data-task='{visit_task['id']}']").count() == 0
    page.goto(f"{live_server}/inbox/")
    page.click(f"tr[data-task='{visit_task['id']}'] a")

    # the form is drawn in the browser from the JSON Schema and its UI hints
    page.wait_for_selector("#form-fields .form-group[data-field=summary] textarea")
    assert "Visit the customer before the deadline" in page.text_content("#instructions")
    page.fill("#visited_at", "2026-03-05T10:00")
    page.select_option("#method", "HOME")
    page.select_option("#outcome", "reached")
    page.select_option("#satisfied", "true")
    page.select_option("#customer_signed", "true")
    page.select_option("#visitor_signed", "true")
    page.fill("#summary", "x")  # too short: minLength 2
    with page.expect_navigation():
        page.click("#complete")

    error = page.locator(".form-group[data-field=summary] .field-error")
    error.wait_for()
    assert page.locator(".form-group.has-error").count() == 1
    assert page.input_value("#visited_at") == "2026-03-05T10:00"  # the other values are kept
    assert page.input_value("#satisfied") == "true"

    # a draft survives leaving the page
    page.fill("#summary", "厨房下水已修好，业主满意")
    with page.expect_navigation():
        page.click("#save-draft")
    page.wait_for_selector("#draft-note")
    page.goto(f"{live_server}/inbox/")
    page.click(f"tr[data-task='{visit_task['id']}'] a")
    page.wait_for_selector("#form-fields textarea")
    assert page.input_value("#summary") == "厨房下水已修好，业主满意"
    assert page.input_value("#method") == "HOME"

    page.click("#complete")
    page.wait_for_url(f"{live_server}/inbox/")
    assert page.locator(f"tr[data-task='{visit_task['id']}']").count() == 0

    # the filled 回访记录表 from the visit's page
    page.goto(f"{live_server}/visits/show/{v['id']}")
    with page.expect_download() as download_info:
        page.click("#print-filled")
    pdf = download_info.value.path().read_bytes()
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    db.session.expire_all()
    serial = db.session.get(Visit, v["id"]).serial
    assert serial in text and "回访记录表" in text and "厨房下水已修好" in text
    page.context.close()

    # the supervisor claims the review from the role pool and accepts the visit
    page = _login(browser, live_server, "supervisor")
    page.goto(f"{live_server}/inbox/?scope=roles")
    review = tasks(client, sup, v["instance_id"])["review"]
    with page.expect_navigation():
        page.click(f"tr[data-task='{review['id']}'] button")  # claim
    page.goto(f"{live_server}/inbox/task/{review['id']}")
    page.wait_for_selector("#form-fields #qualified")
    assert "8栋-801" in page.text_content("#visit-panel")
    page.select_option("#qualified", "true")
    page.fill("#comment", "记录完整 complete")
    page.click("#complete")
    page.wait_for_url(f"{live_server}/inbox/")
    db.session.expire_all()
    assert db.session.get(Visit, v["id"]).status == "archived"
    page.context.close()
