"""Traces of a run started over HTTP and run in process: one trace, the request's span at
its root, the execution's span under it, a span per step attempt under that (with their
attributes), and the outbound requests of API and LLM steps under their attempts, their
trace context sent along and their query strings kept out of the spans. And: when tracing
is on or off, what the process does without the extra, the ids on log lines."""

from __future__ import annotations

import io
import json
import logging
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs the otel extra (in dev)")

from dependency_injector import providers
from litestar.testing import AsyncTestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.adapters.http_peer import Peer, running_peer
from tests.fakes.llm_servers import FakeOpenAI
from tests.http.conftest import API, container_for, http_settings
from tests.http.resources import Api, Person
from tests.http.test_workflows_support import create_workflow, execute, step, wait_until
from turbocat_adapters import tracing
from turbocat_adapters.log_context import Correlation, running
from turbocat_adapters.tracing import MISSING_EXTRA, configured, tracing_from_environment
from turbocat_adapters.tracing.spans import Tracing
from turbocat_http.app import create_app


@pytest.fixture
def peer() -> Iterator[Peer]:
    with running_peer() as running:
        yield running


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")  # the server's own key
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def api(exporter: InMemorySpanExporter, openai: FakeOpenAI) -> AsyncIterator[Api]:
    """The app with tracing on (a provider of the test's own, exporting to memory); the
    SSRF guard lets API steps reach the peer on 127.0.0.1; LLM steps call a fake OpenAI."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = http_settings(http_allow_private=True, openai_base_url=openai.url)
    container = container_for(settings)
    container.tracing.override(providers.Object(Tracing(provider)))
    async with AsyncTestClient(app=create_app(container), base_url="http://t.local") as client:
        api = Api(client=client, container=container, kind="memory")
        try:
            yield api
        finally:
            api.in_app(container.queue().close)


async def api_agent(api: Api, who: Person, name: str, config: dict[str, Any]) -> str:
    body = {"name": name, "type": "API", "config": config}
    created = await api.client.post(f"{API}/agents", json=body, headers=who.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["data"]["id"])


def finished_spans(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    """The spans once one named ``name`` has ended (the execution's ends just after the
    run's final status is stored)."""
    deadline = time.monotonic() + 30
    while not any(span.name == name for span in exporter.get_finished_spans()):
        assert time.monotonic() < deadline, [s.name for s in exporter.get_finished_spans()]
        time.sleep(0.02)
    return list(exporter.get_finished_spans())


async def test_a_run_started_over_http_is_one_trace(api, exporter, peer, openai, caplog):
    caplog.set_level(logging.INFO, logger="turbocat.http")
    ada = await api.user()
    call = await api_agent(api, ada, "call", {"url": peer.url("/echo?key=secret-in-query")})
    flaky = uuid.uuid4().hex
    again = await api_agent(api, ada, "again", {"url": peer.url(f"/flaky/{flaky}/1/500")})
    llm = {"provider": "openai", "model": "gpt-4o-mini", "prompt": "Say hello."}
    body = {"name": "describe", "type": "LLM", "config": llm}
    created = await api.client.post(f"{API}/agents", json=body, headers=ada.headers)
    assert created.status_code == 201, created.text
    describe = created.json()["data"]["id"]
    workflow = await create_workflow(
        api,
        ada,
        [
            step("call", call),
            step(
                "again",
                again,
                dependsOn=["call"],
                retryCount=1,
                retryDelayMs=0,
                config={"retryOn": ["http_5xx"]},
            ),
            step("describe", describe, dependsOn=["again"]),
        ],
    )
    exporter.clear()
    started = await execute(api, ada, workflow["id"])
    done = await wait_until(api, ada, started["id"])
    assert done["status"] == "COMPLETED", done
    spans = finished_spans(exporter, "execution")

    # The request that started the run is the root of its trace.
    route = "POST /api/v1/workflows/{workflow_id}/execute"
    (request,) = [s for s in spans if s.name == route]
    assert request.kind is SpanKind.SERVER and request.parent is None
    assert request.attributes["http.route"] == "/api/v1/workflows/{workflow_id}/execute"
    trace_id = request.context.trace_id
    # The request's log line names its trace and span.
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "turbocat.http"]
    (line,) = [x for x in lines if x["path"].endswith("/execute")]
    assert line["trace_id"] == f"{trace_id:032x}"
    assert line["span_id"] == f"{request.context.span_id:016x}"
    run = [s for s in spans if s.context.trace_id == trace_id]

    (execution,) = [s for s in run if s.name == "execution"]
    assert execution.parent.span_id == request.context.span_id
    assert execution.attributes["turbocat.execution.id"] == started["id"]
    assert execution.attributes["turbocat.workflow.id"] == workflow["id"]
    assert execution.attributes["turbocat.execution.status"] == "COMPLETED"

    attempts = sorted(
        (s for s in run if s.name.startswith("step ")),
        key=lambda s: (s.start_time, s.attributes["turbocat.step.attempt"]),
    )
    assert [
        (
            s.name,
            s.attributes["turbocat.step.key"],
            s.attributes["turbocat.agent.type"],
            s.attributes["turbocat.step.attempt"],
            s.attributes["turbocat.step.outcome"],
        )
        for s in attempts
    ] == [
        ("step call", "call", "API", 1, "completed"),
        ("step again", "again", "API", 1, "retried"),
        ("step again", "again", "API", 2, "completed"),
        ("step describe", "describe", "LLM", 1, "completed"),
    ]
    for attempt in attempts:
        assert attempt.parent.span_id == execution.context.span_id
        assert attempt.attributes["turbocat.execution.id"] == started["id"]
        assert attempt.attributes["turbocat.workflow.id"] == workflow["id"]
    assert attempts[1].attributes["turbocat.step.error_kind"] == "http_5xx"

    # Each attempt's outbound request is its child; the peer got the trace context.
    outbound = [s for s in run if s.kind is SpanKind.CLIENT]
    assert sorted(s.parent.span_id for s in outbound) == sorted(a.context.span_id for a in attempts)
    (echo,) = [s for s in outbound if s.parent.span_id == attempts[0].context.span_id]
    assert all("secret-in-query" not in str(value) for value in echo.attributes.values())
    url = echo.attributes.get("url.full", echo.attributes.get("http.url"))
    assert url == peer.url("/echo")
    headers = done["outputData"]["call"]["body"]["headers"]
    assert headers["traceparent"].split("-")[1] == f"{trace_id:032x}"
    (completion,) = openai.requests
    assert completion.headers["traceparent"].split("-")[1] == f"{trace_id:032x}"


async def test_without_tracing_nothing_is_traced(exporter):
    """The container of a process whose environment asks for no traces has none, and its
    engine's observer is the metrics' alone."""
    from turbocat_adapters.metrics.prometheus import PrometheusObserver

    container = container_for(http_settings())
    container.tracing.override(providers.Callable(lambda: None))
    assert isinstance(container.observer(), PrometheusObserver)


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "turbocat"}, False),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_the_otel_variables_turn_tracing_on(env, on):
    assert configured(env) is on


def test_without_the_extra_one_line_says_so(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "turbocat_adapters.tracing.spans", None)  # not installed
    monkeypatch.setattr(tracing, "_warned", [])
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    with caplog.at_level(logging.WARNING, "turbocat.tracing"):
        assert tracing_from_environment(env) is None
        assert tracing_from_environment(env) is None
    assert [r.getMessage() for r in caplog.records] == [MISSING_EXTRA]
    assert "pip install 'turbocat[otel]'" in MISSING_EXTRA


def test_log_lines_name_the_trace_span_and_execution(exporter):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s%(correlation)s"))
    handler.addFilter(Correlation())
    log = logging.getLogger("turbocat.tests.correlation")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("outside")
        with running("e-1"):
            log.warning("in a run")
            with provider.get_tracer("t").start_as_current_span("step a") as span:
                log.warning("in a span")
    finally:
        log.removeHandler(handler)
    ids = span.get_span_context()
    assert stream.getvalue().splitlines() == [
        "outside",
        "in a run execution_id=e-1",
        f"in a span trace_id={ids.trace_id:032x} span_id={ids.span_id:016x} execution_id=e-1",
    ]
