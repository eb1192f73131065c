"""``GET /metrics`` after known work through the API: a run of three FUNCTION steps, one of
which fails once and is retried, moves exactly the counters it should; HTTP requests are
counted by route template, never by raw path; the restriction settings hold."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.function_modules import write_module
from tests.http.conftest import API, assert_error
from tests.http.resources import Api, Person, make_api
from tests.http.test_workflows_support import (
    create_workflow,
    execute,
    in_app_loop,
    step,
    wait_until,
)
from tests.metrics.scraping import changed, delta, value

FLAKY = """
from turbocat_adapters import function


@function("once_{tag}")
def once(inputs, ctx):
    return {{"n": inputs["n"] + 1}}


@function("flaky_{tag}")
def flaky(inputs, ctx):
    if ctx.attempt == 1:
        raise RuntimeError("the first attempt always fails")
    return {{"n": inputs["n"] * 2, "attempt": ctx.attempt}}
"""


@pytest.fixture
async def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Api, str]]:
    monkeypatch.syspath_prepend(str(tmp_path))
    tag = uuid.uuid4().hex[:10]
    module = write_module(tmp_path, f"flaky_{tag}", textwrap.dedent(FLAKY.format(tag=tag)))
    async with make_api("memory", functions=(module,)) as api:
        try:
            yield api, tag
        finally:
            in_app_loop(api, api.container.queue().close)


async def scrape(api: Api, **headers: str) -> str:
    response = await api.client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def function_agent(api: Api, who: Person, name: str) -> str:
    body = {"name": name, "type": "FUNCTION", "config": {"function": name}}
    created = await api.client.post(f"{API}/agents", json=body, headers=who.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["data"]["id"])


async def test_a_run_with_one_retry_moves_exactly_its_counters(world):
    api, tag = world
    ada = await api.user()
    once = await function_agent(api, ada, f"once_{tag}")
    flaky = await function_agent(api, ada, f"flaky_{tag}")
    workflow = await create_workflow(
        api,
        ada,
        [
            step("a", once, inputs={"n": "{{inputs.n}}"}),
            step(
                "b",
                flaky,
                inputs={"n": "{{a.output.n}}"},
                dependsOn=["a"],
                retryCount=1,
                retryDelayMs=0,
            ),
            step("c", once, inputs={"n": "{{b.output.n}}"}, dependsOn=["b"]),
        ],
    )
    before = await scrape(api)
    started = await execute(api, ada, workflow["id"], {"inputs": {"n": 1}})
    done = await wait_until(api, ada, started["id"])
    assert done["status"] == "COMPLETED", done
    assert done["outputData"]["c"] == {"n": 5}
    after = await scrape(api)

    engine = {
        (name, tuple(sorted(labels))): moved
        for (name, labels), moved in changed(before, after, "turbocat_").items()
        if not name.startswith(("turbocat_http_", "turbocat_queue_"))
        and not name.endswith(("_bucket", "_sum", "_created"))
    }
    function = (("agent_type", "FUNCTION"), ("step_type", "AGENT"))
    assert engine == {
        ("turbocat_executions_started_total", (("trigger", "MANUAL"),)): 1,
        ("turbocat_executions_finished_total", (("status", "COMPLETED"),)): 1,
        ("turbocat_execution_duration_seconds_count", (("status", "COMPLETED"),)): 1,
        ("turbocat_step_attempts_total", (*function[:1], ("outcome", "completed"), function[1])): 3,
        ("turbocat_step_attempts_total", (*function[:1], ("outcome", "retried"), function[1])): 1,
        ("turbocat_step_retries_total", function): 1,
        ("turbocat_step_duration_seconds_count", function): 4,
    }
    # Nothing is left running, and the durations are real.
    assert value(after, "turbocat_executions_running") == 0
    assert delta(before, after, "turbocat_step_duration_seconds_sum", **dict(function)) > 0


async def test_http_requests_are_counted_by_route_template(world):
    api, _ = world
    ada = await api.user()
    before = await scrape(api)
    for _ in range(3):
        missing = f"{API}/agents/{uuid.uuid4()}"
        assert (await api.client.get(missing, headers=ada.headers)).status_code == 404
    assert (await api.client.get("/no/such/place")).status_code == 404
    after = await scrape(api)
    route = f"{API}/agents/{{agent_id}}"
    assert (
        delta(
            before, after, "turbocat_http_requests_total", method="GET", route=route, status="4xx"
        )
        == 3
    )
    assert (
        delta(
            before,
            after,
            "turbocat_http_requests_total",
            method="GET",
            route="unmatched",
            status="4xx",
        )
        == 1
    )
    assert (
        delta(
            before, after, "turbocat_http_request_duration_seconds_count", method="GET", route=route
        )
        == 3
    )
    assert "/no/such/place" not in after
    assert not any(
        f"{API}/agents/" in line and "{" not in line
        for line in after.splitlines()
        if line.startswith("turbocat_http")
    )
    # The scrape that answers is in flight while it is taken; no other request is.
    assert value(after, "turbocat_http_requests_in_flight") == 1


async def test_queue_figures_are_read_at_scrape_time(world):
    api, _ = world
    assert value(await scrape(api), "turbocat_queue_depth") == 0


async def test_a_token_restricts_the_metrics():
    async with make_api("memory", metrics_token="scrape-" + "t" * 20) as api:
        assert_error(await api.client.get("/metrics"), 401, "UNAUTHORIZED")
        wrong = {"Authorization": "Bearer nope"}
        assert_error(await api.client.get("/metrics", headers=wrong), 401, "UNAUTHORIZED")
        right = {"Authorization": "Bearer scrape-" + "t" * 20}
        assert "turbocat_http_requests_total" in await scrape(api, **right)


async def test_an_address_list_restricts_the_metrics():
    # The test client connects from "testclient", which is no address: refused.
    async with make_api("memory", metrics_allow=("10.0.0.0/8",)) as api:
        assert_error(await api.client.get("/metrics"), 403, "FORBIDDEN")


async def test_metrics_turned_off_are_not_served():
    async with make_api("memory", metrics=False) as api:
        assert_error(await api.client.get("/metrics"), 404, "NOT_FOUND")
