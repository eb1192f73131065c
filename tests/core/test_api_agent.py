"""The API agent's executor over a scripted HttpClient: the request it builds from config and
inputs, how it reads answers, and its own retries (the real HTTP is in tests/adapters)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from email.utils import format_datetime
from typing import Any
from uuid import uuid4

import pytest

from tests.core.builders import T0
from turbocat_adapters.memory import ManualClock
from turbocat_core.agents.api_agent import ApiAgent, decode_body, safe_url
from turbocat_core.agents.contract import RunContext
from turbocat_core.agents.failures import AgentFailure, FailureKind
from turbocat_core.domain.agent import Agent, AgentStatus, AgentType
from turbocat_core.domain.common import AgentId, ExecutionId, UserId, WorkflowId
from turbocat_core.domain.execution import LogLevel
from turbocat_core.errors import ValidationFailed
from turbocat_core.ports import HttpRequest, HttpResponse

URL = "https://api.example.com/v1/items"


def answer(status: int = 200, body: Any = None, headers: dict[str, str] | None = None):
    if body is None:
        raw = b""
    elif isinstance(body, bytes):
        raw = body
    else:
        raw = json.dumps(body).encode()
    found = {"content-type": "application/json"} if headers is None else headers
    return HttpResponse(status=status, headers=found, body=raw, duration_ms=12.345)


class ScriptedHttp:
    """An HttpClient that answers from a script and records what it was sent."""

    def __init__(self, *answers: HttpResponse | Exception) -> None:
        self.answers = list(answers) or [answer(200, {"ok": True})]
        self.requests: list[HttpRequest] = []

    async def send(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        next_answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(next_answer, Exception):
            raise next_answer
        return next_answer


class Run:
    def __init__(self, *answers: HttpResponse | Exception) -> None:
        self.http = ScriptedHttp(*answers)
        self.clock = ManualClock(T0)
        self.agent = ApiAgent(self.http, self.clock, max_response_bytes=4096)
        self.lines: list[tuple[LogLevel, str, dict[str, Any]]] = []

    async def __call__(self, config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
        async def log(level: LogLevel, message: str, metadata: dict[str, Any]) -> None:
            self.lines.append((level, message, metadata))

        agent = Agent(
            id=AgentId(uuid4()),
            created_at=T0,
            updated_at=T0,
            user_id=UserId(uuid4()),
            name="api",
            type=AgentType.API,
            status=AgentStatus.ACTIVE,
            config=config,
        )
        ctx = RunContext(
            execution_id=ExecutionId(uuid4()),
            workflow_id=WorkflowId(uuid4()),
            user_id=agent.user_id,
            step_key="call",
            log=log,
        )
        return await self.agent.execute(agent, config, inputs or {}, ctx)

    @property
    def sent(self) -> HttpRequest:
        return self.http.requests[-1]


# --- the request ---------------------------------------------------------------------


async def test_a_bare_config_is_a_get_with_defaults():
    run = Run()
    out = await run({"url": URL})
    assert run.sent.method == "GET"
    assert run.sent.url == URL
    assert run.sent.body is None
    assert run.sent.timeout_seconds == 30
    assert run.sent.max_response_bytes == 4096
    assert run.sent.headers == {"User-Agent": "turbocat-api-agent"}
    assert out == {
        "status": 200,
        "headers": {"content-type": "application/json"},
        "body": {"ok": True},
        "durationMs": 12.3,
    }


async def test_inputs_merge_over_the_config_headers_query_and_object_body():
    run = Run()
    config = {
        "method": "POST",
        "url": URL,
        "headers": {"X-Team": "a", "Accept": "application/json", "X-Drop": "me"},
        "query": {"page": "1", "size": "10"},
        "body": {"name": "n", "tags": ["x"]},
        "timeoutMs": 2500,
    }
    inputs = {
        "headers": {"x-team": "b", "X-Drop": None, "X-Count": 3},
        "query": {"page": 2, "debug": True},
        "body": {"tags": ["y"], "extra": None},
    }
    await run(config, inputs)
    sent = run.sent
    assert sent.method == "POST"
    assert sent.timeout_seconds == 2.5
    assert sent.headers == {
        "x-team": "b",
        "Accept": "application/json",
        "X-Count": "3",
        "Content-Type": "application/json",
        "User-Agent": "turbocat-api-agent",
    }
    assert sent.query == {"page": "2", "size": "10", "debug": "true"}
    assert json.loads(sent.body or b"") == {"name": "n", "tags": ["y"], "extra": None}
    assert config["headers"]["X-Drop"] == "me"  # read-only


@pytest.mark.parametrize(
    ("config_body", "input_body", "sent", "content_type"),
    [
        ("plain text", None, b"plain text", "text/plain; charset=utf-8"),
        ({"a": 1}, [1, 2], b"[1,2]", "application/json"),
        ([1], {"a": "é"}, '{"a":"é"}'.encode(), "application/json"),
        (None, "from inputs", b"from inputs", "text/plain; charset=utf-8"),
        (None, 42, b"42", "application/json"),
    ],
)
async def test_bodies(config_body, input_body, sent, content_type):
    run = Run()
    config: dict[str, Any] = {"method": "PUT", "url": URL}
    if config_body is not None:
        config["body"] = config_body
    await run(config, {"body": input_body} if input_body is not None else {})
    assert run.sent.body == sent
    assert run.sent.headers["Content-Type"] == content_type


async def test_an_explicit_content_type_is_kept_and_a_null_body_input_drops_the_body():
    run = Run()
    config = {
        "method": "POST",
        "url": URL,
        "headers": {"content-type": "application/x-www-form-urlencoded"},
        "body": "a=1&b=2",
    }
    await run(config)
    assert run.sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "Content-Type" not in run.sent.headers
    await run({"method": "POST", "url": URL, "body": {"a": 1}}, {"body": None})
    assert run.sent.body is None
    assert "Content-Type" not in run.sent.headers


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"data": 1}, "takes the inputs headers, query and body; got data"),
        ({"headers": "x"}, "inputs headers must be an object"),
        ({"query": {"a": [1]}}, "inputs query.a must be a string or a number"),
    ],
)
async def test_unusable_inputs_fail_without_retries(inputs, message):
    with pytest.raises(AgentFailure, match=message) as raised:
        await Run()({"url": URL}, inputs)
    assert not raised.value.retryable


async def test_a_config_still_holding_a_reference_fails_clearly():
    with pytest.raises(AgentFailure, match=r"config\.url") as raised:
        await Run()({"url": "{{env.API_URL}}"})
    assert not raised.value.retryable


def test_check_config_refuses_a_bad_config_when_saved():
    agent = ApiAgent(ScriptedHttp(), ManualClock(T0))
    agent.check_config({"url": "{{env.API_URL}}/x"})  # references are fine before a run
    with pytest.raises(ValidationFailed, match=r"config\.url"):
        agent.check_config({"url": "ftp://example.com"})


# --- auth ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        ({"type": "bearer", "token": "t0ken"}, "Authorization", "Bearer t0ken"),
        (
            {"type": "basic", "username": "ann", "password": "pw:1"},
            "Authorization",
            "Basic " + base64.b64encode(b"ann:pw:1").decode(),
        ),
        ({"type": "apiKey", "key": "k-123"}, "X-API-Key", "k-123"),
        ({"type": "apiKey", "key": "k-123", "header": "X-Token"}, "X-Token", "k-123"),
    ],
)
async def test_auth_in_headers_wins_over_configured_headers(auth, header, value):
    run = Run()
    await run({"url": URL, "headers": {header.upper(): "stale"}, "auth": auth})
    assert run.sent.headers[header] == value
    assert header.upper() not in run.sent.headers or header.upper() == header


@pytest.mark.parametrize(("name", "expected"), [(None, "api_key"), ("token", "token")])
async def test_an_api_key_in_the_query(name, expected):
    run = Run()
    auth: dict[str, Any] = {"type": "apiKey", "key": "k-9", "in": "query"}
    if name:
        auth["header"] = name
    await run({"url": URL, "query": {"q": "x"}, "auth": auth})
    assert run.sent.query == {"q": "x", expected: "k-9"}
    assert "X-API-Key" not in run.sent.headers


# --- the answer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "content_type", "expected"),
    [
        (b'{"a": 1}', "application/json; charset=utf-8", {"a": 1}),
        (b"[1]", "application/problem+json", [1]),
        (b"", "application/json", None),
        (b"not json", "application/json", "not json"),
        ("héllo".encode("latin-1"), "text/plain; charset=ISO-8859-1", "héllo"),
        (b"<p>hi</p>", "text/html", "<p>hi</p>"),
        (b"\xff", None, "\ufffd"),
        (b"x", "text/plain; charset=nonsense", "x"),
    ],
)
def test_decode_body(raw, content_type, expected):
    assert decode_body(raw, content_type) == expected


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (429, FailureKind.HTTP_429, True),
        (500, FailureKind.HTTP_5XX, True),
        (503, FailureKind.HTTP_5XX, True),
        (408, FailureKind.TIMEOUT, True),
        (404, FailureKind.ERROR, False),
        (401, FailureKind.ERROR, False),
    ],
)
async def test_a_final_error_status_fails_the_step_with_its_kind(status, kind, retryable):
    run = Run(answer(status, {"detail": "nope"}))
    with pytest.raises(AgentFailure) as raised:
        await run({"method": "DELETE", "url": URL + "?key=secret"})
    assert raised.value.kind is kind
    assert raised.value.retryable is retryable
    assert raised.value.message.startswith(f"DELETE {URL} answered {status} ")
    assert '{"detail": "nope"}' in raised.value.message
    assert "secret" not in raised.value.message


async def test_a_redirect_that_was_not_followed_is_an_answer():
    run = Run(answer(304, None, {}))
    assert (await run({"url": URL}))["status"] == 304


async def test_failure_messages_never_show_auth_values():
    echoed = {"got": "Bearer sup3r-secret", "basic": base64.b64encode(b"u:pw-pw").decode()}
    for auth, secret in (
        ({"type": "bearer", "token": "sup3r-secret"}, "sup3r-secret"),
        ({"type": "basic", "username": "u", "password": "pw-pw"}, echoed["basic"]),
    ):
        with pytest.raises(AgentFailure) as raised:
            await Run(answer(400, echoed))({"url": URL, "auth": auth})
        assert secret not in raised.value.message
        assert "********" in raised.value.message


def test_safe_url_drops_user_info_query_and_fragment():
    assert safe_url("https://u:p@h.example:8443/a/b?key=1#f") == "https://h.example:8443/a/b"
    assert safe_url("http://[::1]:80/x") == "http://[::1]:80/x"


# --- retries ---------------------------------------------------------------------------


async def test_listed_statuses_are_retried_with_exponential_backoff():
    run = Run(answer(503), answer(502), answer(200, {"ok": 1}))
    out = await run({"url": URL, "retry": {"count": 3, "delayMs": 100}})
    assert out["body"] == {"ok": 1}
    assert len(run.http.requests) == 3
    assert run.clock.sleeps == [0.1, 0.2]
    assert [meta["status"] for _, _, meta in run.lines] == [503, 502]
    assert run.lines[0][1] == f"GET {URL} answered 503; retry 1 of 3 in 100 ms"


async def test_retries_stop_at_count_and_the_last_answer_fails_the_step():
    run = Run(answer(500))
    with pytest.raises(AgentFailure) as raised:
        await run({"url": URL, "retry": {"count": 2, "delayMs": 10}})
    assert raised.value.kind is FailureKind.HTTP_5XX
    assert len(run.http.requests) == 3


async def test_without_a_retry_object_there_is_one_attempt():
    run = Run(answer(503))
    with pytest.raises(AgentFailure):
        await run({"url": URL})
    assert len(run.http.requests) == 1


async def test_retry_defaults_and_unlisted_statuses():
    run = Run(answer(429), answer(504), answer(200))
    await run({"url": URL, "retry": {}})
    assert run.clock.sleeps == [0.5, 1.0]  # default delay 500 ms, count 3
    run = Run(answer(500))
    with pytest.raises(AgentFailure):
        await run({"url": URL, "retry": {"count": 3, "statusCodes": [503]}})
    assert len(run.http.requests) == 1


async def test_backoff_is_capped():
    run = Run(answer(503), answer(503), answer(200))
    run.agent.max_retry_wait_seconds = 1.5
    await run({"url": URL, "retry": {"count": 2, "delayMs": 1000}})
    assert run.clock.sleeps == [1.0, 1.5]


async def test_network_failures_are_retried_other_failures_are_not():
    network = AgentFailure("connection failed: refused", kind=FailureKind.NETWORK)
    run = Run(network, network, answer(200))
    await run({"url": URL, "retry": {"count": 2, "delayMs": 50}})
    assert len(run.http.requests) == 3
    assert "failed (connection failed: refused); retry 1 of 2" in run.lines[0][1]
    for failure in (
        AgentFailure("timed out", kind=FailureKind.TIMEOUT),
        AgentFailure("refused: 10.0.0.5 is a private address", retryable=False),
        AgentFailure("gone", kind=FailureKind.NETWORK, retryable=False),
    ):
        run = Run(failure)
        with pytest.raises(AgentFailure) as raised:
            await run({"url": URL, "retry": {"count": 3}})
        assert raised.value is failure
        assert len(run.http.requests) == 1


async def test_retry_after_in_seconds_or_as_a_date_is_honoured_and_capped():
    run = Run(answer(429, None, {"Retry-After": "7"}), answer(200))
    await run({"url": URL, "retry": {"count": 1, "delayMs": 100}})
    assert run.clock.sleeps == [7.0]

    date = format_datetime(T0 + timedelta(seconds=12), usegmt=True)
    run = Run(answer(503, None, {"retry-after": date}), answer(200))
    await run({"url": URL, "retry": {"count": 1}})
    assert run.clock.sleeps == [12.0]

    run = Run(answer(503, None, {"Retry-After": "86400"}), answer(200))
    await run({"url": URL, "retry": {"count": 1}})
    assert run.clock.sleeps == [60.0]

    # only 429 and 503 carry it; garbage falls back to the backoff
    for status, value in ((500, "9"), (429, "soon")):
        run = Run(answer(status, None, {"Retry-After": value}), answer(200))
        await run({"url": URL, "retry": {"count": 1, "delayMs": 100}})
        assert run.clock.sleeps == [0.1]


async def test_retry_lines_never_show_the_query_or_auth():
    network = AgentFailure("connection failed", kind=FailureKind.NETWORK)
    run = Run(network, answer(200))
    await run(
        {
            "url": URL + "?token=abc",
            "auth": {"type": "apiKey", "key": "k-secret", "in": "query"},
            "retry": {"count": 1},
        }
    )
    assert all("k-secret" not in line and "abc" not in line for _, line, _ in run.lines)
