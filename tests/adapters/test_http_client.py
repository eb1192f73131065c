"""HttpxClient against a real server on 127.0.0.1: the API agent end to end (methods, bodies,
auth, timeouts, retries, size cap, redirects) and the SSRF guard with its two ways out."""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from ipaddress import ip_address
from typing import Any
from uuid import uuid4

import pytest

from tests.adapters.http_peer import Peer, closed_port, running_peer, self_signed
from tests.core.builders import T0
from turbocat_adapters.http import AddressGuard, HttpxClient
from turbocat_adapters.memory import ManualClock
from turbocat_adapters.settings import Settings
from turbocat_core.agents.api_agent import ApiAgent
from turbocat_core.agents.contract import RunContext
from turbocat_core.agents.failures import AgentFailure, FailureKind
from turbocat_core.domain.agent import Agent, AgentStatus, AgentType
from turbocat_core.domain.common import AgentId, ExecutionId, UserId, WorkflowId
from turbocat_core.errors import ValidationFailed
from turbocat_core.ports import HttpRequest


@pytest.fixture(scope="module")
def peer():
    with running_peer() as running:
        yield running


class Api:
    """An API agent over a real HttpxClient and a manual clock (retries wait no real time)."""

    def __init__(self, client: HttpxClient, max_response_bytes: int = 64 * 1024) -> None:
        self.clock = ManualClock(T0)
        self.agent = ApiAgent(client, self.clock, max_response_bytes=max_response_bytes)

    async def __call__(self, config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
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
        )
        return await self.agent.execute(agent, config, inputs or {}, ctx)


@pytest.fixture
def api():
    """The guard lifted for private addresses: the peer is on loopback."""
    return Api(HttpxClient(allow_private=True))


def fixed_resolver(table: dict[str, Sequence[str]], calls: list[str] | None = None):
    async def resolve(host: str, port: int) -> Sequence[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


# --- the API agent end to end ------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_every_method(api: Api, peer: Peer, method: str):
    out = await api({"method": method, "url": peer.url("/echo")})
    assert out["status"] == 200
    assert out["body"]["method"] == method
    assert out["headers"]["content-type"] == "application/json"
    assert out["durationMs"] > 0


async def test_head_has_no_body(api: Api, peer: Peer):
    out = await api({"method": "HEAD", "url": peer.url("/echo")})
    assert out["status"] == 200
    assert out["body"] is None


async def test_headers_query_and_a_json_body_reach_the_server(api: Api, peer: Peer):
    out = await api(
        {
            "method": "POST",
            "url": peer.url("/echo?fixed=1"),
            "headers": {"X-One": "1"},
            "query": {"a": "b"},
            "body": {"k": [1, "é"]},
        },
        {"headers": {"X-Two": "2"}, "query": {"a": "c"}, "body": {"extra": True}},
    )
    seen = out["body"]
    assert seen["query"] == {"fixed": "1", "a": "c"}
    assert seen["headers"]["x-one"] == "1"
    assert seen["headers"]["x-two"] == "2"
    assert seen["headers"]["content-type"] == "application/json"
    assert seen["headers"]["user-agent"] == "turbocat-api-agent"
    assert seen["body"] == '{"k":[1,"é"],"extra":true}'


async def test_a_text_body_and_a_text_answer(api: Api, peer: Peer):
    out = await api({"method": "PUT", "url": peer.url("/echo"), "body": "just text"})
    assert out["body"]["body"] == "just text"
    assert out["body"]["headers"]["content-type"] == "text/plain; charset=utf-8"
    text = await api({"url": peer.url("/text")})
    assert text["body"] == "héllo"  # decoded with the declared charset (latin-1)


@pytest.mark.parametrize(
    ("auth", "where", "name", "value"),
    [
        ({"type": "bearer", "token": "tok-1"}, "headers", "authorization", "Bearer tok-1"),
        (
            {"type": "basic", "username": "ann", "password": "pw"},
            "headers",
            "authorization",
            "Basic YW5uOnB3",
        ),
        ({"type": "apiKey", "key": "k1"}, "headers", "x-api-key", "k1"),
        ({"type": "apiKey", "key": "k1", "header": "X-Custom"}, "headers", "x-custom", "k1"),
        ({"type": "apiKey", "key": "k1", "in": "query"}, "query", "api_key", "k1"),
        ({"type": "apiKey", "key": "k1", "in": "query", "header": "key"}, "query", "key", "k1"),
    ],
)
async def test_each_auth_kind(api: Api, peer: Peer, auth, where, name, value):
    out = await api({"url": peer.url("/echo"), "auth": auth})
    assert out["body"][where][name] == value


async def test_a_slow_server_times_out(api: Api, peer: Peer):
    began = time.monotonic()
    with pytest.raises(AgentFailure) as raised:
        await api({"url": peer.url("/slow?seconds=3"), "timeoutMs": 300})
    assert raised.value.kind is FailureKind.TIMEOUT
    assert raised.value.retryable
    assert time.monotonic() - began < 2


async def test_listed_statuses_are_retried_and_counted_by_the_server(api: Api, peer: Peer):
    key = uuid4().hex
    out = await api({"url": peer.url(f"/flaky/{key}/2/503"), "retry": {"count": 3, "delayMs": 10}})
    assert out["body"] == {"ok": True, "attempts": 3}
    assert peer.hits[key] == 3
    assert api.clock.sleeps == [0.01, 0.02]

    key = uuid4().hex
    with pytest.raises(AgentFailure) as raised:
        await api({"url": peer.url(f"/flaky/{key}/5/502"), "retry": {"count": 1}})
    assert raised.value.kind is FailureKind.HTTP_5XX
    assert "answered 502 Bad Gateway" in raised.value.message
    assert peer.hits[key] == 2

    key = uuid4().hex  # not a listed status: one request
    with pytest.raises(AgentFailure) as raised:
        await api({"url": peer.url(f"/flaky/{key}/5/404"), "retry": {"count": 3}})
    assert raised.value.kind is FailureKind.ERROR
    assert not raised.value.retryable
    assert peer.hits[key] == 1


async def test_network_errors_are_retried(api: Api):
    with pytest.raises(AgentFailure) as raised:
        await api(
            {"url": f"http://127.0.0.1:{closed_port()}/", "retry": {"count": 2, "delayMs": 5}}
        )
    assert raised.value.kind is FailureKind.NETWORK
    assert raised.value.retryable
    assert api.clock.sleeps == [0.005, 0.01]


async def test_a_dropped_connection_is_a_network_failure(api: Api, peer: Peer):
    with pytest.raises(AgentFailure) as raised:
        await api({"url": peer.url("/drop")})
    assert raised.value.kind is FailureKind.NETWORK


async def test_retry_after_is_honoured(api: Api, peer: Peer):
    key = uuid4().hex
    out = await api({"url": peer.url(f"/flaky/{key}/1/429?retryAfter=2"), "retry": {"count": 1}})
    assert out["status"] == 200
    assert api.clock.sleeps == [2.0]


@pytest.mark.parametrize("chunked", ["", "1"])
async def test_the_size_cap(peer: Peer, chunked: str):
    api = Api(HttpxClient(allow_private=True), max_response_bytes=4096)
    out = await api({"url": peer.url(f"/big?bytes=4096&chunked={chunked}")})
    assert len(out["body"]) == 4096
    with pytest.raises(AgentFailure, match="larger than the limit of 4096 bytes") as raised:
        await api({"url": peer.url(f"/big?bytes=5120&chunked={chunked}")})
    assert not raised.value.retryable


async def test_redirects_are_followed(api: Api, peer: Peer):
    out = await api({"url": peer.url("/redirect?to=/echo%3Fx%3D1")})
    assert out["body"]["path"] == "/echo"
    assert out["body"]["query"] == {"x": "1"}
    # 303 after a POST: the next hop is a GET without the body
    out = await api(
        {"method": "POST", "url": peer.url("/redirect?status=303&to=/echo"), "body": {"a": 1}}
    )
    assert out["body"]["method"] == "GET"
    assert out["body"]["body"] == ""
    assert "content-type" not in out["body"]["headers"]
    # 307 keeps the method and the body
    out = await api(
        {"method": "POST", "url": peer.url("/redirect?status=307&to=/echo"), "body": {"a": 1}}
    )
    assert (out["body"]["method"], out["body"]["body"]) == ("POST", '{"a":1}')


async def test_redirects_are_capped_at_five(api: Api, peer: Peer):
    assert (await api({"url": peer.url("/hops/5")}))["body"]["path"] == "/echo"
    with pytest.raises(AgentFailure, match=r"too many redirects \(more than 5\)") as raised:
        await api({"url": peer.url("/hops/6")})
    assert not raised.value.retryable


async def test_credentials_stay_with_their_origin(api: Api, peer: Peer):
    auth = {"type": "bearer", "token": "tok"}
    headers = {"X-API-Key": "k", "X-Other": "o"}
    same = await api({"url": peer.url("/redirect?to=/echo"), "auth": auth, "headers": headers})
    assert same["body"]["headers"]["authorization"] == "Bearer tok"
    elsewhere = peer.url("/echo", host="localhost")
    other = await api(
        {"url": peer.url(f"/redirect?to={elsewhere}"), "auth": auth, "headers": headers}
    )
    seen = other["body"]["headers"]
    assert "authorization" not in seen
    assert "x-api-key" not in seen
    assert seen["x-other"] == "o"


async def test_a_redirect_to_a_private_address_is_refused(peer: Peer):
    api = Api(HttpxClient(allowed_hosts=["localhost"]))
    assert (await api({"url": peer.url("/echo", host="localhost")}))["status"] == 200
    for target in (peer.url("/echo"), "http://10.0.0.5/", "http://169.254.169.254/latest"):
        with pytest.raises(AgentFailure, match="SSRF guard") as raised:
            await api({"url": peer.url(f"/redirect?to={target}", host="localhost")})
        assert not raised.value.retryable


async def test_a_redirect_to_another_scheme_is_refused(api: Api, peer: Peer):
    with pytest.raises(AgentFailure, match="redirect to a file: URL"):
        await api({"url": peer.url("/redirect?to=file:///etc/passwd")})


# --- the SSRF guard ----------------------------------------------------------------------


def request(url: str) -> HttpRequest:
    return HttpRequest(method="GET", url=url, timeout_seconds=5)


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("127.8.9.10", "127.8.9.10 is a loopback address"),
        ("[::1]", "::1 is a loopback address"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1 is a loopback address (127.0.0.1 inside IPv6)"),
        ("[::ffff:10.1.2.3]", "a private address (10.1.2.3 inside IPv6)"),
        ("[64:ff9b::a00:1]", "a private address (10.0.0.1 inside IPv6)"),
        ("0.0.0.0", "0.0.0.0 is an unspecified address"),
        ("[::]", ":: is an unspecified address"),
        ("10.0.0.5", "10.0.0.5 is a private address"),
        ("172.16.4.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("[fd12::1]", "a private address"),
        ("169.254.1.1", "a link-local address"),
        ("[fe80::1]", "a link-local address"),
        ("100.64.0.1", "a shared (CGNAT) address"),
        ("224.0.0.1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("169.254.169.254", "169.254.169.254 is a cloud metadata address"),
        ("[fd00:ec2::254]", "a cloud metadata address"),
        ("metadata.google.internal", "metadata.google.internal is a cloud metadata host"),
    ],
)
async def test_the_guard_refuses_non_public_addresses(peer: Peer, host: str, message: str):
    calls: list[str] = []
    client = HttpxClient(resolve=fixed_resolver({}, calls))
    with pytest.raises(AgentFailure) as raised:
        await client.send(request(f"http://{host}:{peer.port}/echo"))
    assert message in raised.value.message
    assert raised.value.message.startswith("refused: ")
    assert "(SSRF guard)" in raised.value.message
    assert raised.value.kind is FailureKind.ERROR
    assert not raised.value.retryable
    assert calls == []  # literals and metadata names are never looked up


async def test_names_are_checked_after_resolution(peer: Peer):
    with pytest.raises(AgentFailure, match=r"localhost resolves to .*a loopback address"):
        await HttpxClient().send(request(peer.url("/echo", host="localhost")))
    resolver = fixed_resolver(
        {"intranet.test": ["10.0.0.5"], "mixed.test": ["8.8.8.8", "10.9.9.9"]}
    )
    client = HttpxClient(resolve=resolver)
    with pytest.raises(AgentFailure) as raised:
        await client.send(request("http://intranet.test/"))
    assert raised.value.message == (
        "refused: intranet.test resolves to 10.0.0.5, a private address (SSRF guard); "
        "set TURBOCAT_HTTP_ALLOW_PRIVATE=true or list the host in TURBOCAT_HTTP_ALLOWED_HOSTS "
        "to allow it"
    )
    with pytest.raises(AgentFailure, match=r"mixed\.test resolves to 10\.9\.9\.9"):
        await client.send(request("http://mixed.test/"))


async def test_an_unknown_name_is_a_network_failure():
    client = HttpxClient(resolve=fixed_resolver({}))
    with pytest.raises(AgentFailure, match=r"cannot resolve nowhere\.test") as raised:
        await client.send(request("http://nowhere.test/"))
    assert raised.value.kind is FailureKind.NETWORK


async def test_the_checked_address_is_the_one_connected_to(peer: Peer):
    """The name is resolved once, by the guard; the request still names the host."""
    calls: list[str] = []
    client = HttpxClient(
        allowed_hosts=["127.0.0.1/32"],
        resolve=fixed_resolver({"service.test": ["127.0.0.1"]}, calls),
    )
    response = await client.send(request(f"http://service.test:{peer.port}/echo"))
    assert response.status == 200
    assert b'"host": "service.test:%d"' % peer.port in response.body
    assert calls == ["service.test"]


async def test_allowed_hosts_lift_the_guard_for_what_they_name(peer: Peer):
    by_address = HttpxClient(allowed_hosts=["127.0.0.1"])
    answer = await by_address.send(request(peer.url("/echo")))
    assert (answer.status, answer.internal) == (200, True)
    by_network = HttpxClient(allowed_hosts=["127.0.0.0/8", "::1/128"])
    assert (await by_network.send(request(peer.url("/echo", host="localhost")))).status == 200
    by_name = HttpxClient(allowed_hosts=["LOCALHOST"])
    assert (await by_name.send(request(peer.url("/echo", host="localhost")))).status == 200
    with pytest.raises(AgentFailure, match="loopback"):
        await by_name.send(request(peer.url("/echo")))  # the name, not its addresses
    metadata = HttpxClient(allowed_hosts=["169.254.169.254"]).guard
    assert metadata.refusal("169.254.169.254", ip_address("169.254.169.254")) is None


async def test_allow_private_lifts_all_but_cloud_metadata(peer: Peer):
    client = HttpxClient(allow_private=True)
    assert (await client.send(request(peer.url("/echo")))).status == 200
    assert (await client.send(request(peer.url("/echo", host="localhost")))).status == 200
    for url in ("http://169.254.169.254/", "http://[::ffff:169.254.169.254]/"):
        with pytest.raises(AgentFailure, match="cloud metadata address") as raised:
            await client.send(request(url))
        assert "TURBOCAT_HTTP_ALLOW_PRIVATE" not in raised.value.message


def test_the_guard_builds_from_settings(tmp_path):
    settings = Settings.load(
        {
            "TURBOCAT_HTTP_ALLOW_PRIVATE": "true",
            "TURBOCAT_HTTP_ALLOWED_HOSTS": "api.internal, 10.0.0.0/8,[fd00::1],,",
        },
        dotenv=tmp_path / "absent",
    )
    assert settings.http_allow_private is True
    assert settings.http_allowed_hosts == ("api.internal", "10.0.0.0/8", "[fd00::1]")
    guard = AddressGuard.build(allowed_hosts=settings.http_allowed_hosts)
    assert guard.allowed_names == frozenset({"api.internal"})
    assert len(guard.allowed_networks) == 2
    assert Settings.load({}, dotenv=tmp_path / "absent").http_allowed_hosts == ()
    with pytest.raises(ValidationFailed, match="TURBOCAT_HTTP_ALLOWED_HOSTS"):
        Settings.load({"TURBOCAT_HTTP_ALLOWED_HOSTS": "10.0.0.0/99"}, dotenv=tmp_path / "absent")
    with pytest.raises(ValueError, match="neither a host name nor an IP network"):
        AddressGuard.build(allowed_hosts=["10.0.0.0/99"])


async def test_bad_urls_fail_without_retries():
    client = HttpxClient(allow_private=True)
    for url in ("ftp://example.com/", "http://:80/"):
        with pytest.raises(AgentFailure) as raised:
            await client.send(request(url))
        assert not raised.value.retryable


async def test_https_verifies_the_url_host_on_the_checked_address(tmp_path):
    """TLS to the pinned address still sends the URL's host as SNI and checks the
    certificate against it."""
    server_tls, client_tls = self_signed("service.test", tmp_path)
    resolver = fixed_resolver({"service.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    client = HttpxClient(allowed_hosts=["127.0.0.1/32"], resolve=resolver, ssl_context=client_tls)
    with running_peer(tls=server_tls) as tls_peer:
        response = await client.send(request(f"https://service.test:{tls_peer.port}/echo"))
        assert response.status == 200
        assert response.internal  # the peer's address is known through TLS too
        with pytest.raises(AgentFailure, match="TLS certificate not trusted") as raised:
            await client.send(request(f"https://other.test:{tls_peer.port}/echo"))
        assert not raised.value.retryable


async def test_numeric_spellings_of_loopback_are_resolved_then_refused(peer: Peer):
    for host in ("2130706433", "0x7f000001", "127.1"):
        with pytest.raises(AgentFailure, match="a loopback address"):
            await HttpxClient().send(request(f"http://{host}:{peer.port}/echo"))


async def test_a_failing_internal_call_is_not_quoted(peer: Peer):
    """Issue 11: an address allowed by the operator answers with its status, never its body;
    the same answer's body is the output when it succeeds (the operator allowed the host)."""
    api = Api(HttpxClient(allowed_hosts=["127.0.0.1"]))
    for status in (400, 404, 500):
        with pytest.raises(AgentFailure) as raised:
            await api({"url": peer.url(f"/status/{status}"), "headers": {"X-Secret": "hunter2"}})
        message = raised.value.message
        assert message.startswith(f"GET {peer.url(f'/status/{status}')} answered {status} ")
        assert message.endswith("(body not shown: the answer came from a non-public address)")
        assert "as asked" not in message
        assert "hunter2" not in message
    assert (await api({"url": peer.url("/echo")}))["body"]["path"] == "/echo"
