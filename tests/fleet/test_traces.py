"""One trace across the fleet: the server's span of the request that started a run is the
root; the worker's spans of the queue wait, the execution and its steps (and an API step's
outbound request) carry its trace id, each process exporting over OTLP/HTTP."""

from __future__ import annotations

import pytest

pytest.importorskip("opentelemetry.proto", reason="needs the otel extra (in dev)")

from tests.adapters.http_peer import running_peer
from tests.fleet.fleet import Client, Fleet, step
from tests.tracing.otlp import OtlpReceiver, Span

pytestmark = pytest.mark.slow

SERVER_KIND, CLIENT_KIND = 2, 3  # the protocol's SPAN_KIND_SERVER, SPAN_KIND_CLIENT


def test_a_run_is_one_trace_from_the_server_into_a_worker(fleet: Fleet):
    with OtlpReceiver() as receiver, running_peer() as peer:
        fleet.env.update(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms: spans leave soon after they end
                "OTEL_SERVICE_NAME": "turbocat-server",
                "TURBOCAT_HTTP_ALLOWED_HOSTS": "127.0.0.1",  # the API step's peer
            }
        )
        base = fleet.server()
        fleet.env["OTEL_SERVICE_NAME"] = "turbocat-worker"
        fleet.worker()
        client = Client(base)
        data = client.data_agent()
        api = {"name": "echo", "type": "API", "config": {"url": peer.url("/echo")}}
        echo = client.post("/agents", api)["id"]
        workflow = client.workflow(
            [{"stepKey": "call", "agentId": echo}, step("b", data, 2, "call")]
        )
        execution_id = client.execute(workflow)
        done = client.finished(execution_id)
        assert done["status"] == "COMPLETED", done

        def execution_of(spans: list[Span]) -> list[Span]:
            return [
                s
                for s in spans
                if s.name == "execution"
                and s.attributes.get("turbocat.execution.id") == execution_id
            ]

        spans = receiver.wait_for(lambda spans: bool(execution_of(spans)))

    (execution,) = execution_of(spans)
    trace = [s for s in spans if s.trace_id == execution.trace_id]
    (request,) = [s for s in trace if s.kind == SERVER_KIND]
    assert request.name == "POST /api/v1/workflows/{workflow_id}/execute"
    assert request.service == "turbocat-server" and request.parent_id == ""

    (queued,) = [s for s in trace if s.name == "queued"]
    assert (queued.service, queued.parent_id) == ("turbocat-worker", request.span_id)
    assert (execution.service, execution.parent_id) == ("turbocat-worker", request.span_id)
    assert execution.attributes["turbocat.workflow.id"] == workflow
    steps = {s.attributes["turbocat.step.key"]: s for s in trace if s.name.startswith("step ")}
    assert set(steps) == {"call", "b"}
    for key, agent_type in (("call", "API"), ("b", "DATA")):
        attempt = steps[key]
        assert attempt.service == "turbocat-worker"
        assert attempt.parent_id == execution.span_id
        assert attempt.attributes["turbocat.agent.type"] == agent_type
        assert attempt.attributes["turbocat.step.attempt"] == 1
        assert attempt.attributes["turbocat.step.outcome"] == "completed"
    (outbound,) = [s for s in trace if s.kind == CLIENT_KIND]
    assert outbound.parent_id == steps["call"].span_id
    sent = done["outputData"]["call"]["body"]["headers"]["traceparent"]
    assert sent.split("-")[1] == execution.trace_id
