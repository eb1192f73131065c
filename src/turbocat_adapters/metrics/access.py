"""Who may read the metrics: anyone, unless ``TURBOCAT_METRICS_TOKEN`` (a bearer token) or
``TURBOCAT_METRICS_ALLOW`` (IP networks) restricts them; with both, a scraper needs both."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from ipaddress import ip_address, ip_network

from turbocat_adapters.settings import Settings
from turbocat_core.errors import PermissionDenied, Unauthenticated


@dataclass(frozen=True, slots=True)
class MetricsAccess:
    token: str | None = None
    networks: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> MetricsAccess:
        return cls(settings.metrics_token, settings.metrics_allow)

    def check(self, authorization: str | None, client: str | None) -> None:
        """Raise ``Unauthenticated`` (no or a wrong token) or ``PermissionDenied`` (an
        address outside the allowed networks) unless this scraper may read the metrics."""
        if self.networks and not _inside(client, self.networks):
            raise PermissionDenied("this address may not read the metrics")
        if self.token is not None:
            scheme, _, given = (authorization or "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), self.token.encode()
            ):
                raise Unauthenticated(
                    "the metrics want Authorization: Bearer <TURBOCAT_METRICS_TOKEN>"
                )


def _inside(client: str | None, networks: tuple[str, ...]) -> bool:
    try:
        address = ip_address((client or "").strip("[]"))
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ip_network(network) for network in networks)
