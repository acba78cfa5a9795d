"""Browser fixtures for the front-end bundles: static pages (tests/frontend/pages) that load the built bundles from
app/static/vendor, served by a small local HTTP server of the test module's own, and one chromium per module
(Debian's /usr/bin/chromium driven by Playwright; never a downloaded browser). No Flask app and no database: the
pages call the bundles' global APIs as the app's pages will."""
from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "app" / "static" / "vendor"
PAGES = Path(__file__).parent / "pages"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


class _Handler(SimpleHTTPRequestHandler):
    """/vendor/… from app/static/vendor, everything else from the pages folder; nothing else is reachable."""

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0].split("#", 1)[0]
        if path.startswith("/vendor/"):
            return str(VENDOR / path[len("/vendor/"):])
        return str(PAGES / path.lstrip("/"))

    def log_message(self, format, *args):  # noqa: A002 - the signature is the base class's
        pass


@pytest.fixture(scope="module")
def static_base():
    """The base URL of a server for the test pages and the built bundles."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser, static_base):
    """open_page(path, **context_options) → a page on the test server; its uncaught errors are in page.errors."""
    contexts = []

    def _open(path: str, **options):
        context = browser.new_context(**{"viewport": {"width": 1400, "height": 900}, **options})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []  # uncaught errors of the page: each test asserts there were none
        page.on("pageerror", lambda err: page.errors.append(str(err)))
        page.goto(f"{static_base}/{path.lstrip('/')}")
        return page

    yield _open
    for context in contexts:
        context.close()
