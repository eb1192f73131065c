"""The console of a real `turbocat serve` in a real headless Chromium that can reach nothing but
that server: sign in, create and run workflows, watch a run turn green live, a failed step's
error and its retry, cancelling a long run, a deployment started and stopped, an XSS probe,
keyboard-only use; every page screenshotted (``artifacts/console``) and checked for being
rendered, and no page may hit its CSP or ask anything of another host.

Needs Debian's ``chromium`` (see test_swagger_ui_browser.py). Every wait is for a state of the
page (Playwright's ``expect`` retries until it holds), bounded by a generous timeout.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.test_serve import server
from tests.http.console_browser import Guard, screenshot
from tests.http.test_swagger_ui_browser import chromium_path

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # a server and a browser start

WAIT_MS = 60_000
EMAIL = "console@example.com"
PASSWORD = "Str0ng!pass"
XSS_NAME = '<script>window.xssRan = 1</script><img src=x onerror="window.xssRan = 2">'

PIPELINE = """name: Pipeline
description: a WAIT (holdMs), then a diamond of DATA steps
concurrencyLimit: 1
inputs: {holdMs: 0, n: 1}
agents:
  shape:
    type: DATA
    config: {operation: transform, template: {n: "{{item.n}}"}}
steps:
  - stepKey: hold
    stepType: WAIT
    config: {durationMs: "{{inputs.holdMs}}"}
  - stepKey: extract
    agent: shape
    dependsOn: [hold]
    inputs: {data: {n: "{{inputs.n}}"}}
  - stepKey: left
    agent: shape
    dependsOn: [extract]
    inputs: {data: "{{extract.output}}"}
  - stepKey: right
    agent: shape
    dependsOn: [extract]
    inputs: {data: "{{extract.output}}"}
  - stepKey: join
    agent: shape
    dependsOn: [left, right]
    inputs: {data: "{{left.output}}"}
"""

BROKEN = """name: Broken
agents:
  fine:
    type: DATA
    config: {operation: transform, template: {ok: true}}
  broken:
    type: DATA
    config:
      operation: transform
      template: {ok: true}
      outputSchema: {type: object, required: [missing]}
steps:
  - stepKey: prepare
    agent: fine
    inputs: {data: {}}
  - stepKey: explode
    agent: broken
    dependsOn: [prepare]
    inputs: {data: {}}
"""


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server with one registered user, and a browser."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    data_dir: Path = tmp_path_factory.mktemp("console")
    # A generous bound: several browsers and servers may start at once on a loaded machine.
    with server(data_dir, ready_seconds=120) as base, sync_playwright() as playwright:
        registered = httpx.post(
            f"{base}/api/v1/auth/register", json={"email": EMAIL, "password": PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        token = registered.json()["data"]["tokens"]["accessToken"]
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            yield {"base": base, "browser": browser, "token": token}
        finally:
            browser.close()


@pytest.fixture
def session(console: dict[str, Any]) -> Iterator[tuple[Any, Guard, str]]:
    """A signed-in page in a fresh browser context, guarded; the guard checked afterwards."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    base = console["base"]
    context = console["browser"].new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    guard = Guard(base)
    guard.watch(page)
    page.goto(f"{base}/executions")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/executions")
    try:
        yield page, guard, base
        guard.check()
    finally:
        context.close()


def create_workflow(page: Any, base: str, text: str, shot: str | None = None) -> str:
    from playwright.sync_api import expect

    page.goto(f"{base}/workflows")
    page.get_by_role("link", name="New workflow").click()
    page.get_by_label("Workflow file").fill(text)
    if shot is not None:
        screenshot(page, shot)
    page.get_by_role("button", name="Create workflow").click()
    expect(page).to_have_url(re.compile(r"/workflows/[0-9a-f-]{36}$"))
    return str(page.url)


def run(page: Any, workflow_url: str, inputs: dict[str, Any]) -> str:
    from playwright.sync_api import expect

    page.goto(workflow_url)
    page.get_by_label("Inputs (JSON)").fill(json.dumps(inputs))
    page.get_by_role("button", name="Run workflow").click()
    expect(page).to_have_url(re.compile(r"/executions/[0-9a-f-]{36}$"))
    return str(page.url)


def node(page: Any, key: str) -> Any:
    return page.locator(f'svg.dag [data-step="{key}"]')


def test_the_sign_in_page_renders(console: dict[str, Any]):
    from playwright.sync_api import expect

    context = console["browser"].new_context()
    page = context.new_page()
    guard = Guard(console["base"])
    guard.watch(page)
    try:
        page.goto(f"{console['base']}/login")
        expect(page.get_by_role("heading", name="Sign in to Turbocat")).to_be_visible()
        screenshot(page, "login")
        guard.check()
    finally:
        context.close()


def test_a_run_turns_green_live_and_a_long_run_is_cancelled(session: tuple[Any, Guard, str]):
    from playwright.sync_api import expect

    page, _, base = session
    workflow = create_workflow(page, base, PIPELINE, shot="workflow-new")
    expect(node(page, "join")).to_be_visible()
    screenshot(page, "workflow")

    long_run = run(page, workflow, {"holdMs": 600_000, "n": 1})
    expect(node(page, "hold")).to_have_attribute("data-state", "RUNNING")
    # The workflow runs one execution at a time: the next one waits, PENDING, until the long
    # one is cancelled, so its page is open before any of its steps runs.
    watched = run(page, workflow, {"holdMs": 0, "n": 2})
    expect(page.locator('[data-field="status"]')).to_have_text("PENDING")
    for key in ("hold", "extract", "left", "right", "join"):
        expect(node(page, key)).to_have_attribute("data-state", "PENDING")
    page.evaluate("window.sameDocument = true")

    other = page.context.new_page()
    other.goto(long_run)
    other.get_by_role("button", name="Cancel run").click()
    expect(other.locator('[data-field="status"]')).to_have_text("CANCELLED")
    expect(other.get_by_role("button", name="Retry from start")).to_be_visible()
    screenshot(other, "run-cancelled")
    other.close()

    for key in ("hold", "extract", "left", "right", "join"):
        expect(node(page, key)).to_have_attribute("data-state", "COMPLETED")
    expect(page.locator('[data-field="status"]')).to_have_text("COMPLETED")
    assert page.evaluate("window.sameDocument") is True, "the page was reloaded, not updated"
    assert page.url == watched
    screenshot(page, "run-completed")

    node(page, "join").click()
    expect(page.locator("#step-detail")).to_contain_text('"n": 2')
    screenshot(page, "run-step")

    page.goto(f"{base}/executions?status=COMPLETED&workflow={workflow.rsplit('/', 1)[1]}")
    expect(page.locator("table.list tbody tr")).to_have_count(1)
    screenshot(page, "executions")


def test_a_failed_steps_error_and_its_retry(session: tuple[Any, Guard, str]):
    from playwright.sync_api import expect

    page, _, base = session
    workflow = create_workflow(page, base, BROKEN)
    failed = run(page, workflow, {})
    expect(node(page, "explode")).to_have_attribute("data-state", "FAILED")
    expect(node(page, "prepare")).to_have_attribute("data-state", "COMPLETED")
    expect(page.locator('[data-field="status"]')).to_have_text("FAILED")
    node(page, "explode").click()
    error = page.locator("#step-detail .step-error")
    expect(error).to_contain_text('missing required property "missing"')
    screenshot(page, "run-failed-step")

    page.get_by_role("button", name="Retry from failure").click()
    expect(page).not_to_have_url(failed)
    expect(page.get_by_text("Retry of")).to_be_visible()
    expect(node(page, "explode")).to_have_attribute("data-state", "FAILED")
    node(page, "prepare").click()
    expect(page.locator("#step-detail")).to_contain_text("Reused from")


def test_a_deployment_is_started_and_stopped(
    console: dict[str, Any], session: tuple[Any, Guard, str]
):
    from playwright.sync_api import expect

    page, _, base = session
    workflow = create_workflow(page, base, BROKEN.replace("name: Broken", "name: Deployed"))
    created = httpx.post(
        f"{base}/api/v1/deployments",
        headers={"Authorization": f"Bearer {console['token']}"},
        json={
            "name": "nightly",
            "workflowId": workflow.rsplit("/", 1)[1],
            "environmentVariables": {"API_TOKEN": "s3cret-value"},
        },
    )
    assert created.status_code == 201, created.text
    page.goto(f"{base}/deployments")
    screenshot(page, "deployments")
    page.get_by_role("link", name="nightly").click()
    expect(page.locator("code.webhook")).to_contain_text("/api/v1/hooks/")
    expect(page.get_by_text("API_TOKEN")).to_be_visible()
    assert "s3cret-value" not in page.content()
    page.get_by_role("button", name="Start deployment").click()
    expect(page.locator('[data-field="deployment-status"]')).to_have_text("RUNNING")
    screenshot(page, "deployment")
    page.get_by_role("button", name="Stop deployment").click()
    expect(page.locator('[data-field="deployment-status"]')).to_have_text("STOPPED")


def test_api_keys_and_analytics_pages(session: tuple[Any, Guard, str]):
    from playwright.sync_api import expect

    page, _, base = session
    page.goto(f"{base}/api-keys")
    page.get_by_label("Name").fill("ci")
    page.get_by_role("button", name="Create key").click()
    raw = page.locator("pre.raw-key")
    expect(raw).to_be_visible()
    key = raw.inner_text().strip()
    screenshot(page, "api-keys")
    page.goto(f"{base}/api-keys")
    expect(page.locator("table.list")).to_contain_text("ci")
    assert key not in page.content(), "the key is shown once"
    page.get_by_role("button", name="Revoke ci").click()
    expect(page.get_by_text("No API keys.")).to_be_visible()

    workflow = create_workflow(page, base, PIPELINE.replace("name: Pipeline", "name: Charted"))
    run(page, workflow, {})
    expect(page.locator('[data-field="status"]')).to_have_text("COMPLETED")
    page.goto(f"{base}/analytics?workflow={workflow.rsplit('/', 1)[1]}&interval=hour")
    expect(page.locator("figure.chart polyline")).to_have_count(3)
    screenshot(page, "analytics")


def test_a_workflow_named_like_a_script_stays_text(session: tuple[Any, Guard, str]):
    from playwright.sync_api import expect

    page, _, base = session
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    workflow = create_workflow(page, base, PIPELINE.replace("Pipeline", json.dumps(XSS_NAME)))
    expect(page.get_by_role("heading", level=1)).to_have_text(XSS_NAME)
    run(page, workflow, {})
    expect(page.locator('[data-field="status"]')).to_have_text("COMPLETED")
    for path in ("/workflows", "/executions", "/analytics"):
        page.goto(f"{base}{path}")
        expect(page.locator("main")).to_be_visible()
        assert page.evaluate("typeof window.xssRan") == "undefined", path
    page.goto(f"{base}/workflows")
    expect(page.get_by_role("link", name=XSS_NAME)).to_be_visible()
    screenshot(page, "workflows")
    assert dialogs == []


def test_the_main_pages_work_from_the_keyboard(session: tuple[Any, Guard, str]):
    from playwright.sync_api import expect

    page, _, base = session
    workflow = create_workflow(page, base, PIPELINE.replace("name: Pipeline", "name: Keys"))
    page.goto(f"{base}/executions")

    def tab_to(name: str, limit: int = 40) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            focused = page.evaluate(
                "[document.activeElement.textContent.trim(),"
                " document.activeElement.getAttribute('data-step')]"
            )
            if name in focused:
                return
        raise AssertionError(f"{name!r} is not reachable with Tab")

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    tab_to("Workflows")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base}/workflows")
    tab_to("Keys")
    page.keyboard.press("Enter")
    expect(page).to_have_url(workflow)
    page.get_by_label("Inputs (JSON)").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Run workflow")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/executions/[0-9a-f-]{36}$"))
    expect(page.locator('[data-field="status"]')).to_have_text("COMPLETED")
    tab_to("join")
    page.keyboard.press("Enter")
    expect(page.locator("#step-detail")).to_contain_text("Step join")
    screenshot(page, "keyboard-step")
