"""The console's run page: server time to render a 200-step run, and a live page keeping up
with a run that finishes 50 steps per second.

1. Render: an app over memory:// (in process, Litestar's test client), a workflow of 200
   DATA steps in 20 layers of 10, run to the end; then ``--renders`` (30) GETs of its run
   page, signed in by cookie. Prints the median and p95 in ms (target: < 300 ms).
2. Live: a real `turbocat serve` and Debian's chromium (driven by Playwright). A run of 200
   WAIT steps, each waiting until its own moment, 20 ms apart (50 steps/s), starting a few
   seconds after the run page is open. The page records, with a MutationObserver, when each
   step's node turns COMPLETED; the lag of a step is that moment minus the step's completion
   time in its log line (one machine, one clock). Prints the lag's p50/p95/max and how long
   after the last step the page showed every node green (target: the page keeps up, lag
   bounded rather than growing with the run).

    python benchmarks/console.py [--renders 30] [--skip-live]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0:1] = [str(ROOT)]

import argparse
import asyncio
import logging
import os
import re
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from litestar.testing import AsyncTestClient
from tests.cli.test_serve import server
from tests.http.conftest import build_app

PASSWORD = "Str0ng!pass"
CSRF = re.compile(r'name="_csrf_token" value="([0-9a-f]+)"')
LAYERS, WIDTH = 20, 10
LIVE_STEPS = 200
STEP_GAP_MS = 20  # 50 steps per second
LEAD_SECONDS = 4.0  # the page is open before the first step is due


def layered_workflow() -> dict[str, Any]:
    steps = []
    for layer in range(LAYERS):
        for i in range(WIDTH):
            key = f"s{layer:02d}_{i}"
            depends = [f"s{layer - 1:02d}_{j}" for j in (i, (i + 1) % WIDTH)] if layer else []
            steps.append(
                {
                    "stepKey": key,
                    "agent": "shape",
                    "dependsOn": depends,
                    "inputs": {"data": {"n": layer * WIDTH + i}},
                }
            )
    return {
        "name": "Two hundred steps",
        "maxConcurrency": 64,
        "agents": {
            "shape": {
                "type": "DATA",
                "config": {"operation": "transform", "template": {"n": "{{item.n}}"}},
            }
        },
        "steps": steps,
    }


def paced_workflow(first_due: datetime) -> dict[str, Any]:
    steps = []
    for i in range(LIVE_STEPS):
        due = first_due + timedelta(milliseconds=STEP_GAP_MS * i)
        steps.append(
            {
                "stepKey": f"w{i:03d}",
                "stepType": "WAIT",
                "config": {"until": due.isoformat().replace("+00:00", "Z")},
            }
        )
    return {"name": "Fifty per second", "maxConcurrency": 64, "steps": steps}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def render_benchmark(renders: int) -> None:
    async with AsyncTestClient(app=build_app(routers=()), base_url="http://bench.local") as client:
        client.follow_redirects = False
        response = await client.post(
            "/api/v1/auth/register", json={"email": "bench@example.com", "password": PASSWORD}
        )
        token = response.json()["data"]["tokens"]["accessToken"]
        auth = {"Authorization": f"Bearer {token}"}
        created = await client.post(
            "/api/v1/workflows/import?status=ACTIVE", json=layered_workflow(), headers=auth
        )
        assert created.status_code == 201, created.text
        workflow_id = created.json()["data"]["id"]
        started = await client.post(f"/api/v1/workflows/{workflow_id}/execute", headers=auth)
        execution_id = started.json()["data"]["id"]
        async with client.stream(
            "GET", f"/api/v1/executions/{execution_id}/stream", headers=auth
        ) as stream:
            async for _ in stream.aiter_lines():
                pass  # the stream ends when the run does
        status = (await client.get(f"/api/v1/executions/{execution_id}", headers=auth)).json()
        assert status["data"]["status"] == "COMPLETED", status["data"]["status"]
        login = await client.get("/login")
        csrf = CSRF.search(login.text).group(1)  # type: ignore[union-attr]
        signed = await client.post(
            "/login", data={"email": "bench@example.com", "password": PASSWORD, "_csrf_token": csrf}
        )
        assert signed.status_code == 303, (signed.status_code, signed.text[:300])
        timings = []
        server_times = ServerTimes(f"/executions/{execution_id}")
        logging.getLogger("turbocat.http").addHandler(server_times)
        for _ in range(renders + 1):
            began = time.perf_counter()
            page = await client.get(f"/executions/{execution_id}")
            timings.append((time.perf_counter() - began) * 1000)
            assert page.status_code == 200
            assert page.text.count('data-state="COMPLETED"') == LAYERS * WIDTH
        timings = timings[1:]  # the first one compiles the templates
        served = server_times.ms[1:]
        print(
            f"run page of a {LAYERS * WIDTH}-step run ({len(page.content) / 1024:.0f} KiB), "
            f"{renders} renders; server time (the request log's duration_ms): median "
            f"{statistics.median(served):.1f} ms, p95 {percentile(served, 0.95):.1f} ms "
            f"(target < 300 ms); with the test client: median "
            f"{statistics.median(timings):.1f} ms, p95 {percentile(timings, 0.95):.1f} ms; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )


class ServerTimes(logging.Handler):
    """The ``duration_ms`` of the request log lines (``turbocat.http``) of one path."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.ms: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "http", None)
        if isinstance(fields, dict) and fields.get("path") == self.path:
            self.ms.append(float(fields["duration_ms"]))


OBSERVER = """() => {
  window.turnedGreen = {};
  const observer = new MutationObserver((records) => {
    const now = Date.now();
    for (const record of records) {
      const node = record.target;
      const key = node.getAttribute("data-step");
      if (node.getAttribute("data-state") === "COMPLETED" && !(key in window.turnedGreen)) {
        window.turnedGreen[key] = now;
      }
    }
  });
  document.querySelectorAll("[data-step]").forEach((node) =>
    observer.observe(node, {attributes: true, attributeFilter: ["data-state"]}));
}"""


def live_benchmark() -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("live page: skipped (no chromium on PATH)")
        return
    from playwright.sync_api import expect, sync_playwright

    with (
        tempfile.TemporaryDirectory() as data_dir,
        server(Path(data_dir)) as base,
        sync_playwright() as playwright,
    ):
        registered = httpx.post(
            f"{base}/api/v1/auth/register", json={"email": "live@example.com", "password": PASSWORD}
        )
        auth = {"Authorization": f"Bearer {registered.json()['data']['tokens']['accessToken']}"}
        browser = playwright.chromium.launch(executable_path=chromium)
        page = browser.new_page()
        page.goto(f"{base}/login")
        page.get_by_label("Email").fill("live@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/executions")
        first_due = datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)
        created = httpx.post(
            f"{base}/api/v1/workflows/import?status=ACTIVE",
            json=paced_workflow(first_due),
            headers=auth,
        )
        assert created.status_code == 201, created.text
        workflow_id = created.json()["data"]["id"]
        started = httpx.post(f"{base}/api/v1/workflows/{workflow_id}/execute", headers=auth)
        execution_id = started.json()["data"]["id"]
        page.goto(f"{base}/executions/{execution_id}")
        page.evaluate(OBSERVER)
        opened = datetime.now(UTC)
        if opened >= first_due:
            print("live page: the page opened after the first step was due; run it again")
        expect(page.locator('[data-field="status"]')).to_have_text("COMPLETED", timeout=120_000)
        expect(page.locator('svg.dag [data-state="COMPLETED"]')).to_have_count(
            LIVE_STEPS, timeout=120_000
        )
        shown: dict[str, int] = page.evaluate("window.turnedGreen")
        browser.close()
        completed: dict[str, datetime] = {}
        after = 0
        while True:
            lines = httpx.get(
                f"{base}/api/v1/executions/{execution_id}/logs",
                params={"afterSeq": after, "pageSize": 100},
                headers=auth,
            ).json()
            for line in lines["data"]:
                after = line["seq"]
                if line["stepStatus"] == "COMPLETED" and line.get("stepCompletedAt"):
                    completed[line["stepKey"]] = datetime.fromisoformat(line["stepCompletedAt"])
            if not lines["meta"]["hasNext"]:
                break
        lags = [shown[key] - completed[key].timestamp() * 1000 for key in shown if key in completed]
        finished = [completed[key] for key in completed]
        span = (max(finished) - min(finished)).total_seconds()
        last_shown = max(shown.values()) / 1000 - max(finished).timestamp()
        print(
            f"live page: {len(shown)} of {LIVE_STEPS} steps seen turning green, finishing at "
            f"{(len(finished) - 1) / span:.0f} steps/s; lag from completion to green: "
            f"p50 {percentile(lags, 0.5):.0f} ms, p95 {percentile(lags, 0.95):.0f} ms, "
            f"max {max(lags):.0f} ms; all green {last_shown * 1000:.0f} ms after the last step"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=30)
    parser.add_argument("--skip-live", action="store_true")
    args = parser.parse_args()
    asyncio.run(render_benchmark(args.renders))
    if not args.skip_live:
        live_benchmark()


if __name__ == "__main__":
    main()
