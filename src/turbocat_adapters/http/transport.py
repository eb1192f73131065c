"""``GuardedNetwork``: the one way outbound HTTP made for users reaches the network."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterable
from functools import cache

import httpcore
import httpx

from turbocat_adapters.http.guard import (
    AddressGuard,
    Resolver,
    address_kind,
    parse_address,
    system_resolver,
)

MAX_CONNECTIONS = 4
Wrapper = Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses the guard passed, and to exactly those: the
    name is resolved once, here, so what is checked is what is connected to. TLS still
    verifies the certificate against the URL's host name (httpcore passes it as SNI)."""

    def __init__(self, guard: AddressGuard, resolve: Resolver) -> None:
        self._guard = guard
        self._resolve = resolve
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._guard.addresses(host, port, self._resolve)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took over {timeout:g} s") from None
        except OSError as error:
            reason = error.strerror or str(error)
            raise httpcore.ConnectError(f"cannot resolve {host}: {reason}") from None
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None  # addresses is never empty
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Unix sockets are not reachable from agents")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (its error mapping, its streaming) over a guarded pool."""

    def __init__(self, ssl_context: ssl.SSLContext, backend: _GuardedBackend) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        # httpx takes no network backend, so the pool it made is swapped for one with ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context, network_backend=backend, max_connections=MAX_CONNECTIONS
        )


@cache
def _system_ssl_context() -> ssl.SSLContext:
    """The CA bundle, loaded once per process, when first needed (not at import)."""
    return httpx.create_ssl_context(trust_env=False)


class GuardedNetwork:
    """The SSRF guard and the httpx transports that apply it to every TCP connection.

    API agents and LLM agents take their transports from one ``GuardedNetwork`` built from
    the settings (``TURBOCAT_HTTP_ALLOW_PRIVATE``, ``TURBOCAT_HTTP_ALLOWED_HOSTS``), so a
    request a user wrote reaches what the guard allows and nothing else. A refused address
    raises a non-retryable ``AgentFailure`` from inside the transport (httpx lets it through
    unchanged). Proxies from the environment are never used: the guard judges the real
    destination. ``wrap`` goes around each transport (traces: a span per request).
    """

    def __init__(
        self,
        guard: AddressGuard,
        *,
        resolve: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
        wrap: Wrapper | None = None,
    ) -> None:
        self.guard = guard
        self._resolve = resolve
        self._ssl_context = ssl_context
        self._wrap = wrap
        self._backend = _GuardedBackend(guard, resolve)

    @classmethod
    def build(
        cls,
        *,
        allow_private: bool = False,
        allowed_hosts: Iterable[str] = (),
        resolve: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
        wrap: Wrapper | None = None,
    ) -> GuardedNetwork:
        """From the settings; ``ValueError`` names an entry that is neither a host nor a CIDR."""
        guard = AddressGuard.build(allow_private=allow_private, allowed_hosts=allowed_hosts)
        return cls(guard, resolve=resolve, ssl_context=ssl_context, wrap=wrap)

    def trusting(self, urls: Iterable[str]) -> GuardedNetwork:
        """The same network whose guard also lets through the hosts of ``urls``: for the
        operator's own endpoints (``TURBOCAT_OPENAI_BASE_URL``...), never for a URL a user
        typed."""
        hosts = [httpx.URL(url).host for url in urls]
        guard = self.guard.allowing(host for host in hosts if host)
        return GuardedNetwork(
            guard, resolve=self._resolve, ssl_context=self._ssl_context, wrap=self._wrap
        )

    def transport(self) -> httpx.AsyncBaseTransport:
        """A new transport (its pool belongs to the event loop that first uses it)."""
        context = self._ssl_context or _system_ssl_context()
        transport = _GuardedTransport(context, self._backend)
        return transport if self._wrap is None else self._wrap(transport)


def reached_internal(response: httpx.Response) -> bool:
    """Whether ``response`` came from a non-public address: one the guard let through only
    because the operator allowed it (or a trusted endpoint of the operator's). ``True`` when
    the address cannot be told, so that the caller errs on the side of saying less."""
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if not isinstance(peer, tuple) or not peer:
        return True
    address = parse_address(str(peer[0]))
    return address is None or address_kind(address) is not None
