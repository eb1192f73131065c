"""Metrics in the fleet: a worker's own `--metrics-port` shows the runs it ran and the
queue's figures read from RQ; the server's `/metrics` shows the requests it answered."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import httpx
import pytest

from tests.cli.test_serve import free_port
from tests.fleet.fleet import Client, Fleet, step
from tests.metrics.scraping import value

pytestmark = pytest.mark.slow

TOKEN = "fleet-scrape-" + "x" * 20


def scrape(url: str) -> str:
    response = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.text


def until(read: Callable[[], str], done: Callable[[str], bool], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.TransportError):
            text = read()
            if done(text):
                return text
        if time.monotonic() > deadline:
            raise AssertionError(f"not there in {timeout} s")
        time.sleep(0.1)


def test_a_worker_serves_its_metrics_on_its_own_port(fleet: Fleet):
    fleet.env["TURBOCAT_METRICS_TOKEN"] = TOKEN
    base = fleet.server()
    port = free_port()
    worker = fleet.worker(4, "--metrics-port", str(port))
    assert f"metrics on http://127.0.0.1:{port}/metrics" in fleet.log_of(worker)
    worker_url = f"http://127.0.0.1:{port}/metrics"
    # The same restriction as the servers': no token, no metrics.
    refused = httpx.get(worker_url, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "UNAUTHORIZED"

    client = Client(base)
    agent = client.data_agent()
    workflow = client.workflow([step("a", agent, 1), step("b", agent, 2, "a")])
    done = client.finished(client.execute(workflow))
    assert done["status"] == "COMPLETED", done

    # The worker ran it: its counters moved (a fresh process: the values are the run's).
    text = until(
        lambda: scrape(worker_url),
        lambda t: value(t, "turbocat_executions_finished_total", status="COMPLETED") == 1,
    )
    assert value(text, "turbocat_executions_started_total", trigger="MANUAL") == 1
    attempts = {"step_type": "AGENT", "agent_type": "DATA"}
    assert value(text, "turbocat_step_attempts_total", outcome="completed", **attempts) == 2
    assert value(text, "turbocat_executions_running") == 0
    # What RQ and the pool say, read at the scrape.
    assert value(text, "turbocat_queue_up") == 1
    assert value(text, "turbocat_workers_alive") == 1
    assert value(text, "turbocat_queue_depth") == 0
    assert value(text, "turbocat_db_pool_size") >= 1
    assert value(text, "turbocat_db_query_duration_seconds_count", kind="read") > 0

    # The server queued the run and answered the requests; it ran no step itself.
    server = scrape(base.removesuffix("/api/v1") + "/metrics")
    assert value(server, "turbocat_executions_started_total", trigger="MANUAL") == 0
    execute = "/api/v1/workflows/{workflow_id}/execute"
    assert (
        value(server, "turbocat_http_requests_total", method="POST", route=execute, status="2xx")
        == 1
    )
    assert value(server, "turbocat_workers_alive") == 1
