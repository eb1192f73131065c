"""The httpx LlmClient against fake OpenAI and Anthropic servers: wire formats, retries, errors."""

from __future__ import annotations

import socket
import time
from email.utils import formatdate

import httpx
import pytest
from dependency_injector import providers

from tests.fakes.llm_servers import FakeAnthropic, FakeOpenAI, Scripted
from turbocat_adapters.container import Container
from turbocat_adapters.http import GuardedNetwork
from turbocat_adapters.http.transport import reached_internal
from turbocat_adapters.llm import HttpLlmClient
from turbocat_adapters.llm.client import retry_after, scrub
from turbocat_adapters.llm.wire import endpoint
from turbocat_adapters.settings import Settings
from turbocat_core.agents.failures import AgentFailure, FailureKind
from turbocat_core.domain.agent import AgentType
from turbocat_core.errors import ValidationFailed
from turbocat_core.ports import LlmRequest

KEY = "sk-test-abcdefghijklmnop"
SECRET = "internal-db-password-hunter2"
LOCAL = GuardedNetwork.build(allowed_hosts=["127.0.0.1"])
"""The guard as an operator who runs a model server on this machine sets it."""


@pytest.fixture
def openai():
    with FakeOpenAI(api_key=KEY) as server:
        yield server


@pytest.fixture
def anthropic():
    with FakeAnthropic(api_key=KEY) as server:
        yield server


class Sleeps:
    """Records the waits between attempts instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def client_for(server, sleeps: Sleeps | None = None, **kw) -> HttpLlmClient:
    return HttpLlmClient(
        openai_base_url=server.url,
        anthropic_base_url=server.url,
        sleep=sleeps or Sleeps(),
        **kw,
    )


def openai_request(**fields) -> LlmRequest:
    return LlmRequest(
        **{"provider": "openai", "model": "gpt-4o-mini", "prompt": "Say hi", "api_key": KEY}
        | fields
    )


def anthropic_request(**fields) -> LlmRequest:
    return LlmRequest(
        **{"provider": "anthropic", "model": "claude-3-5-haiku-latest", "prompt": "Say hi"}
        | {"api_key": KEY}
        | fields
    )


# --- OpenAI ------------------------------------------------------------------------------


async def test_openai_chat_completions_wire_format(openai):
    openai.script(openai.ok("Hi there", finish_reason="length", prompt_tokens=9))
    response = await client_for(openai).complete(
        openai_request(
            system_prompt="Be brief.",
            temperature=0.3,
            max_tokens=64,
            top_p=0.8,
            frequency_penalty=0.1,
            presence_penalty=-0.2,
            stop=("\n\n", "END"),
            json_response=True,
        )
    )
    sent = openai.last
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["content-type"] == "application/json"
    assert sent.json == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hi"},
        ],
        "temperature": 0.3,
        "max_tokens": 64,
        "top_p": 0.8,
        "frequency_penalty": 0.1,
        "presence_penalty": -0.2,
        "stop": ["\n\n", "END"],
        "response_format": {"type": "json_object"},
    }
    assert response.text == "Hi there"
    assert response.model == "gpt-4o-mini-2024-07-18"
    assert response.finish_reason == "length"
    assert (response.prompt_tokens, response.completion_tokens, response.total_tokens) == (9, 5, 14)


async def test_openai_unset_options_are_not_sent(openai):
    await client_for(openai).complete(openai_request())
    assert openai.last.json == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Say hi"}],
    }


async def test_a_refusal_is_a_clear_failure(openai):
    body = FakeOpenAI.completion(None)
    body["choices"][0]["message"]["refusal"] = "I can't help with that."
    openai.script(Scripted(200, body))
    with pytest.raises(AgentFailure, match="refused: I can't help") as caught:
        await client_for(openai).complete(openai_request())
    assert caught.value.retryable is False


# --- Anthropic ---------------------------------------------------------------------------


async def test_anthropic_messages_wire_format(anthropic):
    anthropic.script(anthropic.ok("Bonjour", stop_reason="stop_sequence", input_tokens=21))
    response = await client_for(anthropic).complete(
        anthropic_request(
            system_prompt="Answer in French.",
            temperature=0.5,
            top_p=0.7,
            frequency_penalty=0,
            presence_penalty=0,
            stop=("END",),
            json_response=True,
        )
    )
    sent = anthropic.last
    assert (sent.method, sent.path) == ("POST", "/v1/messages")
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert sent.json == {
        "model": "claude-3-5-haiku-latest",
        "max_tokens": 1024,
        "system": "Answer in French.",
        "messages": [{"role": "user", "content": "Say hi"}],
        "temperature": 0.5,
        "top_p": 0.7,
        "stop_sequences": ["END"],
    }
    assert response.text == "Bonjour"
    assert response.finish_reason == "stop_sequence"
    assert (response.prompt_tokens, response.completion_tokens) == (21, 4)
    assert response.model == "claude-3-5-haiku-20241022"


async def test_anthropic_text_blocks_are_joined_and_max_tokens_passed(anthropic):
    body = FakeAnthropic.message("ignored")
    body["content"] = [
        {"type": "thinking", "thinking": "hmm", "signature": "x"},
        {"type": "text", "text": "Hello, "},
        {"type": "text", "text": "world"},
    ]
    body["usage"] |= {"cache_read_input_tokens": 100, "cache_creation_input_tokens": 5}
    anthropic.script(Scripted(200, body))
    response = await client_for(anthropic).complete(anthropic_request(max_tokens=10))
    assert anthropic.last.json["max_tokens"] == 10
    assert "system" not in anthropic.last.json
    assert response.text == "Hello, world"
    assert response.prompt_tokens == 115


async def test_anthropic_error_body(anthropic, sleeps):
    anthropic.script(anthropic.error(400, "max_tokens: must be at most 8192"))
    with pytest.raises(AgentFailure) as caught:
        await client_for(anthropic, sleeps).complete(anthropic_request())
    assert str(caught.value) == (
        "Anthropic API answered HTTP 400: max_tokens: must be at most 8192 (invalid_request_error)"
    )
    assert caught.value.kind is FailureKind.ERROR
    assert caught.value.retryable is False
    assert len(anthropic.requests) == 1


async def test_anthropic_overloaded_is_retried_then_http_5xx(anthropic, sleeps):
    overloaded = anthropic.error(529, "Overloaded", "overloaded_error")
    anthropic.script(*[overloaded] * 4)
    with pytest.raises(AgentFailure) as caught:
        await client_for(anthropic, sleeps, retries=3).complete(anthropic_request())
    assert caught.value.kind is FailureKind.HTTP_5XX
    assert "after 4 attempts: Overloaded (overloaded_error)" in str(caught.value)
    assert len(anthropic.requests) == 4
    assert len(sleeps.waits) == 3


# --- OpenAI-compatible servers -----------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/", "/v1/chat/completions"])
async def test_openai_compatible_base_urls(suffix):
    with FakeOpenAI(api_key=None) as local:
        request = LlmRequest(
            provider="openai-compatible", model="llama3.2", prompt="hi", base_url=local.url + suffix
        )
        response = await HttpLlmClient(network=LOCAL).complete(request)
        assert local.last.path == "/v1/chat/completions"
        assert "authorization" not in local.last.headers
        assert response.text == "Hello!"


def test_endpoint_keeps_a_providers_own_path():
    assert (
        endpoint("https://api.groq.com/openai/v1", "/v1", "/chat/completions")
        == "https://api.groq.com/openai/v1/chat/completions"
    )
    assert endpoint("https://api.anthropic.com", "/v1", "/messages") == (
        "https://api.anthropic.com/v1/messages"
    )


async def test_openai_compatible_errors_name_the_server(sleeps):
    """A plain ``{"error": "..."}`` body (Ollama, vLLM) is quoted from the operator's own
    endpoint; the server is named by its origin."""
    with FakeOpenAI(api_key=None) as local:
        local.script(Scripted(404, {"error": "model 'llama9' not found"}))
        client = HttpLlmClient(openai_base_url=local.url + "/v1", sleep=sleeps)
        request = LlmRequest(provider="openai-compatible", model="llama9", prompt="hi")
        with pytest.raises(AgentFailure) as caught:
            await client.complete(request)
    assert str(caught.value) == (
        f"OpenAI-compatible API at {local.url} answered HTTP 404: model 'llama9' not found"
    )


# --- the SSRF guard ----------------------------------------------------------------------


def internal_request(base_url: str, provider: str = "openai-compatible") -> LlmRequest:
    return LlmRequest(provider=provider, model="m", prompt="hi", base_url=base_url)


@pytest.mark.parametrize("provider", ["openai-compatible", "openai", "anthropic"])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_base_url_to_an_internal_address_is_refused_by_the_guard(provider, host, sleeps):
    """Issue 11: a user's ``baseUrl`` reached internal services and echoed their answers."""
    with FakeOpenAI(api_key=None) as internal, FakeAnthropic(api_key=None) as other:
        for server in (internal, other):
            server.script(*[Scripted(500, {"error": {"message": SECRET}})] * 5)
        server = other if provider == "anthropic" else internal
        base_url = server.url.replace("127.0.0.1", host)
        with pytest.raises(AgentFailure) as caught:
            await HttpLlmClient(sleep=sleeps).complete(internal_request(base_url, provider))
        assert internal.requests == [] and other.requests == []  # nothing was sent
    message = str(caught.value)
    assert message.startswith("refused: ")
    assert "a loopback address (SSRF guard)" in message
    assert "list the host in TURBOCAT_HTTP_ALLOWED_HOSTS to allow it" in message
    assert SECRET not in message
    assert caught.value.kind is FailureKind.ERROR
    assert caught.value.retryable is False
    assert sleeps.waits == []


async def test_the_operators_endpoint_is_trusted_a_typed_copy_of_it_is_not(openai):
    """``TURBOCAT_OPENAI_BASE_URL`` on loopback works with the strict guard; the same URL in
    a config's ``baseUrl`` goes through the guard like any other."""
    client = client_for(openai)
    assert (await client.complete(openai_request())).text == "Hello!"
    with pytest.raises(AgentFailure, match=r"^refused: 127\.0\.0\.1 is a loopback address"):
        await client.complete(openai_request(base_url=openai.url))
    assert len(openai.requests) == 1


async def test_allowed_hosts_let_a_local_model_server_through():
    with FakeOpenAI(api_key=None, reply_text="from llama") as ollama:
        client = HttpLlmClient(network=LOCAL)
        response = await client.complete(internal_request(ollama.url + "/v1"))
    assert response.text == "from llama"


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (500, {"error": {"message": SECRET, "type": "server_error"}}, FailureKind.HTTP_5XX),
        (400, {"error": SECRET}, FailureKind.ERROR),
        (404, f"<html>{SECRET}</html>".encode(), FailureKind.ERROR),
        (429, {"message": SECRET}, FailureKind.HTTP_429),
    ],
)
async def test_a_failing_internal_server_is_not_quoted(status, body, kind, sleeps):
    """An internal address the operator allowed: the status, never the body."""
    with FakeOpenAI(api_key=None) as internal:
        internal.script(*[Scripted(status, body)] * 4)
        client = HttpLlmClient(network=LOCAL, sleep=sleeps, retries=1)
        with pytest.raises(AgentFailure) as caught:
            await client.complete(internal_request(internal.url))
    message = str(caught.value)
    assert SECRET not in message
    assert message.startswith(f"OpenAI-compatible API at {internal.url} answered HTTP {status}")
    assert message.endswith(": body not shown: the answer came from a non-public address")
    assert caught.value.kind is kind


def test_only_an_answer_from_a_public_address_counts_as_public():
    class Stream:
        def __init__(self, address: object) -> None:
            self.address = address

        def get_extra_info(self, name: str) -> object:
            return self.address if name == "server_addr" else None

    def answer(address: object) -> httpx.Response:
        return httpx.Response(200, extensions={"network_stream": Stream(address)})

    assert reached_internal(answer(("93.184.215.14", 443))) is False
    assert reached_internal(answer(("2606:4700::6810:85e5", 443, 0, 0))) is False
    assert reached_internal(answer(("127.0.0.1", 8080))) is True
    assert reached_internal(answer(("10.1.2.3", 80))) is True
    assert reached_internal(answer(("::ffff:192.168.1.1", 80, 0, 0))) is True
    assert reached_internal(answer(None)) is True  # not known: say less
    assert reached_internal(httpx.Response(200)) is True


# --- errors and retries ------------------------------------------------------------------


async def test_a_bad_key_is_not_retried_and_never_shown(openai, sleeps):
    with pytest.raises(AgentFailure) as caught:
        await client_for(openai, sleeps).complete(openai_request(api_key=KEY + "-wrong"))
    message = str(caught.value)
    assert message.startswith("OpenAI API answered HTTP 401: Incorrect API key provided: sk-****")
    assert "(invalid_request_error)" in message
    assert KEY not in message
    assert "rong" not in message  # the provider's partly masked key is masked entirely
    assert caught.value.kind is FailureKind.ERROR
    assert caught.value.retryable is False
    assert len(openai.requests) == 1
    assert sleeps.waits == []


@pytest.mark.parametrize("status", [400, 403, 404, 422])
async def test_client_errors_are_not_retried(openai, sleeps, status):
    openai.script(openai.error(status, f"nope {status}"))
    with pytest.raises(AgentFailure, match=f"HTTP {status}: nope {status}") as caught:
        await client_for(openai, sleeps).complete(openai_request())
    assert caught.value.retryable is False
    assert len(openai.requests) == 1


async def test_429_honours_retry_after_then_succeeds(openai, sleeps):
    openai.script(
        openai.error(429, "Rate limit reached", "requests", headers={"Retry-After": "2"}),
        openai.ok("finally"),
    )
    response = await client_for(openai, sleeps).complete(openai_request())
    assert response.text == "finally"
    assert len(openai.requests) == 2
    assert sleeps.waits == [2.0]


async def test_retry_after_ms_and_the_cap(openai, sleeps):
    openai.script(
        openai.error(429, "slow", headers={"retry-after-ms": "250"}),
        openai.error(429, "slower", headers={"Retry-After": "3600"}),
        openai.ok(),
    )
    await client_for(openai, sleeps, max_wait=60).complete(openai_request())
    assert sleeps.waits == [0.25, 60]


async def test_429_for_ever_fails_with_its_kind_after_a_bounded_count(openai, sleeps):
    limited = openai.error(429, "You exceeded your quota", "insufficient_quota")
    openai.script(*[limited] * 10)
    with pytest.raises(AgentFailure) as caught:
        await client_for(openai, sleeps, retries=2).complete(openai_request())
    assert caught.value.kind is FailureKind.HTTP_429
    assert caught.value.retryable is True
    assert "after 3 attempts" in str(caught.value)
    assert len(openai.requests) == 3


async def test_500_then_success_backs_off(openai, sleeps):
    openai.script(openai.error(500, "The server had an error", "server_error"), openai.ok("ok"))
    response = await client_for(openai, sleeps, backoff=0.5).complete(openai_request())
    assert response.text == "ok"
    assert len(openai.requests) == 2
    assert len(sleeps.waits) == 1
    assert 0.25 <= sleeps.waits[0] <= 0.5


async def test_a_gateway_page_is_http_5xx_with_its_text(openai, sleeps):
    page = Scripted(502, b"<html><body>502 Bad Gateway</body></html>")
    openai.script(page, page)
    with pytest.raises(AgentFailure, match="HTTP 502 after 2 attempts: <html>") as caught:
        await client_for(openai, sleeps, retries=1).complete(openai_request())
    assert caught.value.kind is FailureKind.HTTP_5XX


async def test_a_success_that_is_not_json(openai):
    openai.script(Scripted(200, b"hello"))
    with pytest.raises(AgentFailure, match="not JSON"):
        await client_for(openai).complete(openai_request())


async def test_a_slow_answer_is_a_timeout(openai):
    openai.script(Scripted(200, FakeOpenAI.completion(), delay=1.0))
    started = time.monotonic()
    with pytest.raises(AgentFailure, match=r"did not answer within 0\.2 s") as caught:
        await client_for(openai, timeout=0.2).complete(openai_request())
    assert caught.value.kind is FailureKind.TIMEOUT
    assert time.monotonic() - started < 1.0


async def test_nobody_listening_is_a_network_failure():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HttpLlmClient(openai_base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(AgentFailure, match="could not reach OpenAI API") as caught:
        await client.complete(openai_request())
    assert caught.value.kind is FailureKind.NETWORK
    assert KEY not in str(caught.value)


def test_retry_after_reads_seconds_and_http_dates():
    now = 1_800_000_000.0
    assert retry_after(httpx.Headers({"Retry-After": "7"}), now) == 7
    assert retry_after(httpx.Headers({"Retry-After": formatdate(now + 30, usegmt=True)}), now) == 30
    assert retry_after(httpx.Headers({"Retry-After": formatdate(now - 30, usegmt=True)}), now) == 0
    assert retry_after(httpx.Headers({"Retry-After": "soon"}), now) is None
    assert retry_after(httpx.Headers({}), now) is None


def test_scrub_hides_keys():
    assert scrub(f"bad key {KEY}", KEY) == "bad key ********"
    assert scrub("key sk-proj-****wxyz is wrong", None) == "key sk-******** is wrong"
    assert scrub("x" * 600, None).endswith("…")


# --- settings and wiring -----------------------------------------------------------------


def test_settings_take_the_base_urls_and_timeout():
    settings = Settings.load(
        {
            "TURBOCAT_OPENAI_BASE_URL": "http://127.0.0.1:9999/",
            "TURBOCAT_ANTHROPIC_BASE_URL": "https://proxy.example.com",
            "TURBOCAT_LLM_TIMEOUT_SECONDS": "30",
        },
        dotenv=None,
    )
    assert settings.openai_base_url == "http://127.0.0.1:9999"
    assert settings.anthropic_base_url == "https://proxy.example.com"
    assert settings.llm_timeout_seconds == 30
    defaults = Settings.load({})
    assert defaults.openai_base_url == "https://api.openai.com"
    assert defaults.anthropic_base_url == "https://api.anthropic.com"
    assert defaults.llm_timeout_seconds == 120
    with pytest.raises(ValidationFailed, match="TURBOCAT_OPENAI_BASE_URL"):
        Settings.load({"TURBOCAT_OPENAI_BASE_URL": "api.openai.com"})


def test_the_container_runs_llm_agents_with_the_settings():
    settings = Settings.load(
        {
            "TURBOCAT_OPENAI_BASE_URL": "http://127.0.0.1:9",
            "TURBOCAT_HTTP_ALLOWED_HOSTS": "ollama.internal,10.1.0.0/16",
        }
    )
    container = Container(settings=providers.Object(settings))
    executors = container.executors()
    assert executors.supports(AgentType.LLM)
    llm = executors.get(AgentType.LLM).client  # type: ignore[attr-defined]
    api = executors.get(AgentType.API).http  # type: ignore[attr-defined]
    assert llm.openai_base_url == "http://127.0.0.1:9"
    assert llm.network is api.network  # one guard for every outbound request
    assert llm.network.guard.allowed_names == frozenset({"ollama.internal"})
