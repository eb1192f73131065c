"""The SSRF guard: which addresses outbound requests may reach, decided after DNS resolution."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from typing import Final

from turbocat_core.agents.failures import AgentFailure

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> addresses``; raises ``OSError`` (``socket.gaierror``) when it cannot."""

METADATA_ADDRESSES: Final = frozenset(
    ip_address(value)
    for value in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
METADATA_HOSTS: Final = frozenset({"metadata.google.internal", "metadata.goog"})
CGNAT: Final = ip_network("100.64.0.0/10")
NAT64: Final = ip_network("64:ff9b::/96")
_ALLOW_HINT: Final = (
    "set TURBOCAT_HTTP_ALLOW_PRIVATE=true or list the host in TURBOCAT_HTTP_ALLOWED_HOSTS "
    "to allow it"
)
_METADATA_HINT: Final = "list the host in TURBOCAT_HTTP_ALLOWED_HOSTS to allow it"


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """The operating system's resolver (``getaddrinfo``, on a worker thread)."""
    infos = await asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_address(text: str) -> IPAddress | None:
    """An IP literal (IPv6 brackets and a ``%scope`` allowed), or ``None`` for a name."""
    try:
        return ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo client, NAT64)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_kind(address: IPAddress) -> str | None:
    """Why ``address`` is not a public one ("a private address"...), or ``None`` if it is."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            kind = address_kind(embedded)
            return f"{kind} ({embedded} inside IPv6)" if kind is not None else None
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address in CGNAT:
        return "a shared (CGNAT) address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a non-public address"
    return None


@dataclass(frozen=True, slots=True)
class AddressGuard:
    """Refuses loopback, private, link-local, CGNAT, multicast, unspecified and reserved
    addresses (IPv4-in-IPv6 forms too) and cloud metadata endpoints.

    ``allow_private`` lifts all of that except the metadata endpoints; ``allowed_hosts``
    (names, compared without case, and IP networks, compared with each resolved address)
    lift everything for what they match.
    """

    allow_private: bool = False
    allowed_names: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def build(
        cls, *, allow_private: bool = False, allowed_hosts: Iterable[str] = ()
    ) -> AddressGuard:
        """From the settings; ``ValueError`` names an entry that is neither a host nor a CIDR."""
        return cls(allow_private=allow_private).allowing(allowed_hosts)

    def allowing(self, hosts: Iterable[str]) -> AddressGuard:
        """This guard, also letting through ``hosts`` (names and IP networks, as in
        ``TURBOCAT_HTTP_ALLOWED_HOSTS``); ``ValueError`` names an entry that is neither."""
        names = set(self.allowed_names)
        networks = list(self.allowed_networks)
        for entry in (raw.strip() for raw in hosts):
            if not entry:
                continue
            if "/" in entry or parse_address(entry) is not None:
                try:
                    networks.append(ip_network(entry.strip("[]"), strict=False))
                except ValueError:
                    raise ValueError(
                        f"{entry!r} is neither a host name nor an IP network"
                    ) from None
            else:
                names.add(_normal(entry))
        return replace(
            self, allowed_names=frozenset(names), allowed_networks=tuple(dict.fromkeys(networks))
        )

    def refusal(self, host: str, address: IPAddress | None) -> str | None:
        """The message refusing ``host`` (at ``address`` when resolved), or ``None``."""
        name = _normal(host)
        if name in self.allowed_names:
            return None
        if address is None:  # the name alone, before resolving it
            if name in METADATA_HOSTS:
                return f"refused: {host} is a cloud metadata host (SSRF guard); {_METADATA_HINT}"
            return None
        if any(address in network for network in self.allowed_networks):
            return None
        kind = address_kind(address)
        if kind is None:
            return None
        metadata = address in METADATA_ADDRESSES or (
            isinstance(address, IPv6Address) and _embedded_ipv4(address) in METADATA_ADDRESSES
        )
        if self.allow_private and not metadata:
            return None
        hint = _METADATA_HINT if metadata else _ALLOW_HINT
        literal = parse_address(host)
        subject = f"{address} is" if literal is not None else f"{host} resolves to {address},"
        return f"refused: {subject} {kind} (SSRF guard); {hint}"

    async def addresses(self, host: str, port: int, resolve: Resolver) -> list[str]:
        """Where ``host`` may be reached: every address it resolves to, each checked; raises
        a non-retryable ``AgentFailure`` if any of them is refused, ``OSError`` if the name
        does not resolve."""
        self._check(self.refusal(host, None))
        literal = parse_address(host)
        found = [str(literal)] if literal is not None else list(await resolve(host, port))
        if not found:
            raise socket.gaierror(f"no address for {host}")
        for text in found:
            address = parse_address(text)
            if address is None:
                raise socket.gaierror(f"the resolver answered {text!r} for {host}")
            self._check(self.refusal(host, address))
        return found

    @staticmethod
    def _check(message: str | None) -> None:
        if message is not None:
            raise AgentFailure(message, retryable=False)


def _normal(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()
