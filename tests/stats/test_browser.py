"""The dashboard in a real browser (Playwright, Debian's chromium): charts drawn by the app's own Chart.js,
a number drilled down to its visits, a table exported to Excel."""
from __future__ import annotations

import io
import threading

import pytest
from openpyxl import load_workbook
from werkzeug.serving import make_server

from tests.app.conftest import PASSWORD

from .test_kpis import _march

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def live_server(app_ctx):
    server = make_server("127.0.0.1", 0, app_ctx, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.requests = requests
        yield page
        context.close()
        browser.close()


def test_dashboard_draws_charts_and_drills_down(stats, live_server, page):
    ids = _march(stats)
    page.goto(f"{live_server}/login/")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", PASSWORD)
    page.click("[type=submit]")
    page.goto(f"{live_server}/lang/en")
    page.goto(f"{live_server}/stats/?period=2024-03&project=kp1")
    # Chart.js came from the app, not the internet, and drew both charts
    page.wait_for_function("window.huifangCharts && window.huifangCharts.length === 2")
    assert page.evaluate("window.huifangCharts.map(c => c.data.labels.length)") == [12, 12]
    assert page.evaluate("window.huifangCharts[0].data.labels[11]") == "2024-03"
    assert page.evaluate("window.huifangCharts[0].data.datasets[1].data[11]") == 4  # visited in March
    assert all(url.startswith(live_server) for url in page.requests), [u for u in page.requests
                                                                       if not u.startswith(live_server)]
    canvas = page.locator("#chart-visits").bounding_box()
    assert canvas["width"] > 100 and canvas["height"] > 50

    # the repair row's "late" number is 2: click it and see exactly those two visits
    row = page.locator("table[data-table=rates] tr", has_text="repair")
    late = row.locator("a.drill[data-measure=late]")
    assert late.inner_text() == "2"
    late.click()
    page.wait_for_selector("#drill-visits")
    assert page.locator("#drill-total").inner_text() == "2"
    shown = {int(v) for v in page.locator("#drill-visits tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.visit)")}
    assert shown == {ids["r3"], ids["r5"]}
    # …and from there to one visit's own page
    page.locator(f"#drill-visits tr[data-visit='{ids['r5']}'] a").click()
    page.wait_for_url(f"**/visits/show/{ids['r5']}")

    # every table exports to Excel
    page.goto(f"{live_server}/stats/?period=2024-03&project=kp1")
    with page.expect_download() as download:
        page.locator("#table-rates a", has_text="Excel").click()
    book = load_workbook(io.BytesIO(open(download.value.path(), "rb").read()))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[1][:3] == ("Project", "Category", "Eligible events")
    assert ("kp1", "repair", 6) in {r[:3] for r in rows[2:]}
