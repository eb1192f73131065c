"""The Swagger UI of a real `turbocat serve`, in a real headless Chromium that can reach nothing
but that server: every tag group renders, an operation opens, and the page's CSP is never hit.

Needs Debian's ``chromium`` (driven by Playwright, which uses it as installed: no browser
download). Without it the test is skipped, except under ``CI=true`` where it fails.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.cli.test_serve import server

pytestmark = pytest.mark.slow

WAIT_MS = 60_000
"""How long to wait for a state of the page (the machine may be loaded)."""


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        why = "no chromium on PATH (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; under CI=true the browser test never skips")
        pytest.skip(why)
    return path


def test_the_docs_render_offline_under_their_csp(tmp_path: Path):
    executable = chromium_path()
    from playwright.sync_api import Route, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with server(tmp_path) as base, sync_playwright() as playwright:
        spec = httpx.get(f"{base}/api/v1/openapi.json").json()
        operations = [op for item in spec["paths"].values() for op in item.values()]
        tags = {tag for op in operations for tag in op["tags"]}
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            page = browser.new_page()
            elsewhere: list[str] = []
            problems: list[str] = []

            def only_the_server(route: Route) -> None:
                if urlsplit(route.request.url).netloc == urlsplit(base).netloc:
                    route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    route.abort()

            page.route("**/*", only_the_server)
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda error: problems.append(str(error)))

            page.goto(f"{base}/api/v1/docs")
            try:
                page.locator(".opblock-tag-section").first.wait_for(timeout=WAIT_MS)
            except PlaywrightTimeout as timeout:
                message = f"no operation shown; blocked: {elsewhere}; errors: {problems}"
                raise AssertionError(message) from timeout
            shown = page.locator("h3.opblock-tag").evaluate_all(
                "tags => tags.map(tag => tag.dataset.tag)"
            )
            assert set(shown) == tags

            login = page.locator(
                '.opblock-post:has(.opblock-summary-path[data-path="/api/v1/auth/login"])'
            )
            login.locator(".opblock-summary").click()
            body = login.locator(".opblock-body")
            body.wait_for(timeout=WAIT_MS)
            assert "Request body" in body.inner_text()
            assert body.locator(".responses-table").first.is_visible()
            assert body.get_by_role("button", name="Try it out").is_visible()

            # "Try it out" reaches the server under the page's connect-src
            templates = page.locator(
                '.opblock-get:has(.opblock-summary-path[data-path="/api/v1/templates"])'
            )
            templates.locator(".opblock-summary").click()
            templates.get_by_role("button", name="Try it out").click()
            templates.get_by_role("button", name="Execute").click()
            status = templates.locator(".live-responses-table .response .response-col_status").first
            status.wait_for(timeout=WAIT_MS)
            assert status.inner_text().strip() == "200"

            assert elsewhere == [], "the page asked for something other than the server"
            assert problems == [], "console errors (a CSP violation is one)"
        finally:
            browser.close()
