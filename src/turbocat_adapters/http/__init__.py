"""Outbound HTTP for agents: httpx behind the SSRF guard (``HttpxClient``, ``GuardedNetwork``)."""

from turbocat_adapters.http.client import HttpxClient
from turbocat_adapters.http.guard import AddressGuard
from turbocat_adapters.http.transport import GuardedNetwork

__all__ = ["AddressGuard", "GuardedNetwork", "HttpxClient"]
