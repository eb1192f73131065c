"""``HttpxClient``: the ``HttpClient`` port over httpx, with the SSRF guard on every connection."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterable, Mapping
from typing import Final

import httpx

from turbocat_adapters.http.guard import AddressGuard, Resolver, system_resolver
from turbocat_adapters.http.transport import GuardedNetwork, reached_internal
from turbocat_core.agents.failures import AgentFailure, FailureKind
from turbocat_core.ports.agents import HttpRequest, HttpResponse

MAX_REDIRECTS: Final = 5
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
_BODY_HEADERS: Final = ("content-type", "content-length", "transfer-encoding")
_CREDENTIAL_WORDS: Final = ("auth", "key", "token", "secret", "password", "session", "cookie")


class HttpxClient:
    """Outbound HTTP for API agents (``HttpClient``).

    Every connection goes through the ``AddressGuard``; redirects are followed here, at most
    ``max_redirects`` hops, each one connecting through the guard again; credentials are
    not carried to another origin. The body is streamed and refused past the request's cap;
    the answer says whether it came from a non-public address (``internal``).
    Each ``send`` has a client of its own: pooled connections would belong to one event loop,
    and RQ jobs each run their own. Failures are ``AgentFailure``: ``timeout``, ``network``,
    or ``error`` (not retryable) for a refused address, a bad URL, too many redirects or too
    big a body. No httpx error leaves this class.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allowed_hosts: Iterable[str] = (),
        resolve: Resolver = system_resolver,
        max_redirects: int = MAX_REDIRECTS,
        ssl_context: ssl.SSLContext | None = None,
        network: GuardedNetwork | None = None,
    ) -> None:
        """``network`` (the container's, shared with LLM agents) or the guard's options."""
        if network is None:
            network = GuardedNetwork.build(
                allow_private=allow_private,
                allowed_hosts=allowed_hosts,
                resolve=resolve,
                ssl_context=ssl_context,
            )
        elif allow_private or allowed_hosts or resolve is not system_resolver or ssl_context:
            raise TypeError("give either a network or the guard's options, not both")
        self.network = network
        self.max_redirects = max_redirects

    @property
    def guard(self) -> AddressGuard:
        return self.network.guard

    async def send(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        seconds = request.timeout_seconds
        try:
            async with (
                asyncio.timeout(seconds),
                httpx.AsyncClient(
                    transport=self.network.transport(),
                    timeout=httpx.Timeout(seconds),
                    follow_redirects=False,
                    trust_env=False,
                ) as client,
            ):
                status, headers, body, internal = await self._exchange(client, request)
        except TimeoutError:
            raise AgentFailure(
                f"no complete answer within {seconds:g} s", kind=FailureKind.TIMEOUT
            ) from None
        except httpx.HTTPError as error:
            raise _translated(error, seconds) from None
        except httpx.InvalidURL as error:
            raise AgentFailure(f"invalid URL: {error}", retryable=False) from None
        return HttpResponse(
            status=status,
            headers=headers,
            body=body,
            duration_ms=(time.monotonic() - started) * 1000,
            internal=internal,
        )

    async def _exchange(
        self, client: httpx.AsyncClient, request: HttpRequest
    ) -> tuple[int, dict[str, str], bytes, bool]:
        method = request.method.upper()
        try:
            url = httpx.URL(request.url)
        except httpx.InvalidURL as error:
            raise AgentFailure(f"invalid URL: {error}", retryable=False) from None
        if request.query:
            url = url.copy_merge_params(dict(request.query))
        headers = dict(request.headers)
        body = request.body
        hops = 0
        while True:
            if url.scheme not in ("http", "https") or not url.host:
                what = f"a {url.scheme}: URL" if url.scheme else "a URL without a host"
                where = "follow a redirect to" if hops else "request"
                raise AgentFailure(f"cannot {where} {what}", retryable=False)
            sent = client.build_request(method, url, headers=headers, content=body)
            response = await client.send(sent, stream=True)
            try:
                location = response.headers.get("location")
                if (
                    not request.follow_redirects
                    or response.status_code not in REDIRECT_STATUSES
                    or not location
                ):
                    data = await _read_capped(response, request.max_response_bytes)
                    headers_out = dict(response.headers.items())
                    return response.status_code, headers_out, data, reached_internal(response)
            finally:
                await response.aclose()
            hops += 1
            if hops > self.max_redirects:
                raise AgentFailure(
                    f"too many redirects (more than {self.max_redirects})", retryable=False
                )
            try:
                target = url.join(location)
            except httpx.InvalidURL:
                raise AgentFailure(
                    f"redirect to an invalid URL ({response.status_code})", retryable=False
                ) from None
            if (response.status_code == 303 and method != "HEAD") or (
                response.status_code in (301, 302) and method == "POST"
            ):
                method, body = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() not in _BODY_HEADERS}
            if _origin(target) != _origin(url):
                headers = _without_credentials(headers)
            url = target


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """The (decoded) body, or a non-retryable failure as soon as it passes ``limit`` bytes."""
    declared = response.headers.get("content-length", "")
    too_big = AgentFailure(
        f"the response body is larger than the limit of {limit} bytes", retryable=False
    )
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, url.port or default


def _without_credentials(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers fit for another origin: none that may carry a credential (``Authorization``,
    an API key header, cookies)."""
    return {
        name: value
        for name, value in headers.items()
        if not any(word in name.lower() for word in _CREDENTIAL_WORDS)
    }


def _translated(error: httpx.HTTPError, seconds: float) -> AgentFailure:
    """An httpx error as the engine's failure kinds (the message never holds the URL's query
    nor any header)."""
    if isinstance(error, httpx.TimeoutException):
        phase = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for the answer",
            httpx.WriteTimeout: "sending the request",
            httpx.PoolTimeout: "waiting for a connection",
        }.get(type(error), "the request")
        return AgentFailure(f"timed out {phase} (limit {seconds:g} s)", kind=FailureKind.TIMEOUT)
    reason = str(error) or type(error).__name__
    if isinstance(error, httpx.UnsupportedProtocol | httpx.LocalProtocolError | httpx.InvalidURL):
        return AgentFailure(f"request not sendable: {reason}", retryable=False)
    if isinstance(error, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in reason:
        return AgentFailure(f"TLS certificate not trusted: {reason}", retryable=False)
    if isinstance(error, httpx.TransportError):
        return AgentFailure(f"connection failed: {reason}", kind=FailureKind.NETWORK)
    return AgentFailure(f"request failed: {reason}", kind=FailureKind.NETWORK)
