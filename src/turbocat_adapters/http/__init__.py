"""Outbound HTTP for API agents: httpx behind the ``HttpClient`` port, with the SSRF guard."""

from turbocat_adapters.http.client import HttpxClient
from turbocat_adapters.http.guard import AddressGuard

__all__ = ["AddressGuard", "HttpxClient"]
