"""A tool-calling LLM agent survives its worker: kill -9 of a real worker while the model's
third answer (of five) is in flight; another worker resumes the conversation from its last
journaled turn, making no finished model call or tool call again."""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fakes.llm_servers import FakeOpenAI
from tests.fleet.fleet import Client, Fleet, held_by

pytestmark = pytest.mark.slow


class CountingTool:
    """An HTTP endpoint the API agent (the model's tool) calls: counts calls per ``n``."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        tool = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                n = parse_qs(urlsplit(self.path).query).get("n", ["?"])[-1]
                tool.calls[n] += 1
                body = json.dumps({"n": n, "square": int(n) ** 2}).encode()
                with contextlib.suppress(OSError):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/square"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def tool() -> Iterator[CountingTool]:
    counting = CountingTool()
    yield counting
    counting.close()


def test_a_killed_worker_s_conversation_resumes_without_repeating_finished_calls(
    fleet: Fleet, tool: CountingTool
):
    in_flight = threading.Event()
    with FakeOpenAI(api_key="sk-fleet-key") as openai:
        fleet.env.update(
            TURBOCAT_OPENAI_BASE_URL=openai.url,
            OPENAI_API_KEY="sk-fleet-key",
            TURBOCAT_HTTP_ALLOWED_HOSTS="127.0.0.1",
        )

        def square(n: int):
            return ("square", {"query": {"n": str(n)}})

        openai.script(
            openai.tool_calls(square(1)),
            openai.tool_calls(square(2)),
            openai.tool_calls(square(3)).held(in_flight),  # turn 3: the worker dies here
            openai.tool_calls(square(3)),  # turn 3 asked again, by the next worker
            openai.tool_calls(square(4)),
            openai.ok("1, 4, 9 and 16."),
        )
        base = fleet.server()
        first = fleet.worker()
        client = Client(base)
        parameters = {
            "type": "object",
            "properties": {"query": {"type": "object", "properties": {"n": {"type": "string"}}}},
        }
        squarer = client.post(
            "/agents",
            {
                "name": "square",
                "type": "API",
                "config": {"url": tool.url},
                "parameters": parameters,
            },
        )["id"]
        agent = client.post(
            "/agents",
            {
                "name": "mathematician",
                "type": "LLM",
                "config": {
                    "provider": "openai",
                    "model": "gpt-4o-mini",
                    "prompt": "Square 1 to 4, one tool call at a time.",
                    "tools": [{"agentId": squarer}],
                },
            },
        )["id"]
        workflow = client.workflow([{"stepKey": "ask", "agentId": agent}])
        execution_id = client.execute(workflow)

        openai.wait_for(3)  # turns 1 and 2 and their tools are journaled; turn 3 in flight
        assert dict(tool.calls) == {"1": 1, "2": 1}
        Fleet.kill(first)
        fleet.worker()
        done = client.finished(execution_id, timeout=90)
        in_flight.set()

    assert done["status"] == "COMPLETED", done
    output = done["outputData"]["ask"]
    assert output["text"] == "1, 4, 9 and 16."
    assert [turn["turn"] for turn in output["turns"]] == [1, 2, 3, 4, 5]
    # Every finished call once; only turn 3's model call, in flight at the kill, twice.
    assert dict(tool.calls) == {"1": 1, "2": 1, "3": 1, "4": 1}
    assert len(openai.requests) == 6
    sent = [request.json["messages"] for request in openai.requests]
    assert sent[3] == sent[2]  # the resumed worker asked the same question again
    lines = [line["message"] for line in client.logs(execution_id)]
    assert any("resumed" in line for line in lines)
    for turn in (1, 2, 4):
        assert sum(line.startswith(f"turn {turn}:") for line in lines) == 1, lines


def test_a_run_waiting_for_an_approval_leaves_its_worker_and_resumes_on_the_decision(
    fleet: Fleet,
):
    with FakeOpenAI(api_key="sk-fleet-key") as openai:
        fleet.env.update(TURBOCAT_OPENAI_BASE_URL=openai.url, OPENAI_API_KEY="sk-fleet-key")
        openai.script(openai.tool_calls(("pick", {"data": {"n": 7}})), openai.ok("Seven."))
        base = fleet.server()
        worker = fleet.worker(concurrency=1)
        client = Client(base)
        tool = client.data_agent()
        agent = client.post(
            "/agents",
            {
                "name": "careful",
                "type": "LLM",
                "config": {
                    "provider": "openai",
                    "model": "gpt-4o-mini",
                    "prompt": "Pick 7.",
                    "tools": [{"agentId": tool, "requiresApproval": True}],
                },
            },
        )["id"]
        execution_id = client.execute(client.workflow([{"stepKey": "ask", "agentId": agent}]))

        def parked(_: dict[str, object]) -> bool:
            lines = client.logs(execution_id)
            return any("without holding a worker" in line["message"] for line in lines)

        waiting = client.wait_for(execution_id, parked, timeout=60)
        assert waiting["status"] == "RUNNING"
        assert not held_by(fleet.lease_holder(execution_id), worker)
        (pending,) = client.execution(execution_id)["pendingApprovals"]
        decided = client.post(
            f"/executions/{execution_id}/approvals/{pending['callId']}", {"approve": True}
        )
        assert decided["status"] == "APPROVED"
        done = client.finished(execution_id, timeout=60)

    assert done["status"] == "COMPLETED", done
    assert done["outputData"]["ask"]["text"] == "Seven."
    assert json.loads(done["outputData"]["ask"]["transcript"][1]["content"]) == {"n": 7}
    assert len(openai.requests) == 2  # the first answer was not asked for again
