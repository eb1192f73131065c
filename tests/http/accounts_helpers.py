"""Shared by the /auth, /users and /api-keys tests: an app whose clock and mailer the test
holds, with every response checked for the request id and the security headers."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hmac
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.http.conftest import API, container_for, http_settings
from turbocat_adapters.container import Container
from turbocat_adapters.mail import Outbox
from turbocat_adapters.memory import ManualClock
from turbocat_http.app import create_app

PASSWORD = "Correct-horse-9"
OTHER_PASSWORD = "Battery-staple-7"
JWT_SECRET = http_settings().jwt_secret  # what the test settings sign with

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def assert_edge_headers(response: httpx.Response) -> None:
    """SPEC §3: every response has a request id and the security headers."""
    assert uuid.UUID(response.headers["x-request-id"]), response.headers
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.request.url)
    assert "default-src 'none'" in response.headers["content-security-policy"]
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        if isinstance(body, dict) and body.get("success") is False:
            assert body["error"]["requestId"] == response.headers["x-request-id"]


@dataclasses.dataclass
class World:
    """A running app over the in-memory store, with the test's clock and outbox."""

    client: AsyncTestClient[Litestar]
    container: Container
    clock: ManualClock
    outbox: Outbox
    checked: list[httpx.Response] = dataclasses.field(default_factory=list)

    # -- accounts ------------------------------------------------------------------------

    async def register(
        self, email: str = "ada@example.com", password: str = PASSWORD, **extra: Any
    ) -> dict[str, Any]:
        response = await self.client.post(
            f"{API}/auth/register", json={"email": email, "password": password, **extra}
        )
        assert response.status_code == 201, response.text
        return response.json()["data"]  # type: ignore[no-any-return]

    async def login(
        self, email: str = "ada@example.com", password: str = PASSWORD
    ) -> httpx.Response:
        return await self.client.post(
            f"{API}/auth/login", json={"email": email, "password": password}
        )

    async def session(
        self, email: str = "ada@example.com", password: str = PASSWORD
    ) -> dict[str, Any]:
        """A fresh login session's ``tokens`` for an existing account."""
        response = await self.login(email, password)
        assert response.status_code == 200, response.text
        return response.json()["data"]["tokens"]  # type: ignore[no-any-return]

    async def refresh(self, refresh_token: str) -> httpx.Response:
        return await self.client.post(f"{API}/auth/refresh", json={"refreshToken": refresh_token})

    async def me(self, token: str | None = None, *, key: str | None = None) -> httpx.Response:
        return await self.client.get(f"{API}/users/me", headers=auth(token, key=key))

    async def create_key(self, token: str, **body: Any) -> httpx.Response:
        return await self.client.post(
            f"{API}/api-keys", json={"name": "ci", **body}, headers=bearer(token)
        )

    async def new_key(self, token: str, **body: Any) -> dict[str, Any]:
        response = await self.create_key(token, **body)
        assert response.status_code == 201, response.text
        return response.json()["data"]  # type: ignore[no-any-return]

    # -- mail ----------------------------------------------------------------------------

    async def forgot(self, email: str) -> httpx.Response:
        return await self.client.post(f"{API}/auth/forgot-password", json={"email": email})

    def reset_token(self, index: int = -1) -> str:
        """The token in the link of a reset mail (the latest by default)."""
        body = self.outbox.messages[index].body
        links: list[str] = re.findall(r"https?://\S+", body)
        assert len(links) == 1, body
        link = urlsplit(links[0])
        assert link.path == "/reset-password", links[0]
        [token] = parse_qs(link.query)["token"]
        return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def auth(token: str | None = None, *, key: str | None = None) -> dict[str, str]:
    headers = bearer(token) if token is not None else {}
    if key is not None:
        headers["X-API-Key"] = key
    return headers


@contextlib.asynccontextmanager
async def open_world(**overrides: Any) -> AsyncIterator[World]:
    """``async with open_world() as world``: the app is started (lifespan entered) and every
    response is checked with :func:`assert_edge_headers`; at least one must have been."""
    container = container_for(http_settings(**overrides))
    clock = ManualClock()
    outbox = Outbox()
    container.clock.override(providers.Object(clock))
    container.mailer.override(providers.Object(outbox))
    app = create_app(container)
    checked: list[httpx.Response] = []

    async def check(response: httpx.Response) -> None:
        await response.aread()
        assert_edge_headers(response)
        checked.append(response)

    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        client.follow_redirects = False
        client.event_hooks["response"] = [check]
        yield World(client=client, container=container, clock=clock, outbox=outbox, checked=checked)
    assert checked, "the test made no request"


SECRET_WORDS = ("hash", "password", "secret")


def json_keys(value: Any) -> set[str]:
    """Every object key anywhere in a JSON value."""
    if isinstance(value, dict):
        return set(value).union(*(json_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(json_keys(v) for v in value))
    return set()


def assert_no_secrets(response: httpx.Response, *secrets: str) -> None:
    """No field named like a hash or password, no bcrypt hash, none of ``secrets``."""
    keys = {key.lower() for key in json_keys(response.json())}
    assert not {key for key in keys for word in SECRET_WORDS if word in key}, keys
    for marker in ("$2a$", "$2b$", "$2y$"):
        assert marker not in response.text, response.text
    for secret in secrets:
        assert secret not in response.text, secret


def without_request_id(response: httpx.Response) -> bytes:
    """The body's bytes with this response's request id blanked (it is the one thing that
    may differ between two answers that must not tell anything apart)."""
    return response.content.replace(response.headers["x-request-id"].encode(), b"<request-id>")


# -- JWT surgery: a client can read and rewrite the parts of a token it holds -------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return json.loads(unb64url(header)), json.loads(unb64url(payload)), signature


def _part(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def forge(header: dict[str, Any], payload: dict[str, Any], signature: str) -> str:
    """A token with these parts and this (not recomputed) signature."""
    return f"{_part(header)}.{_part(payload)}.{signature}"


def sign(header: dict[str, Any], payload: dict[str, Any], secret: str, digest: str) -> str:
    """A token properly HMAC-signed with ``digest`` (``sha256``, ``sha512``...)."""
    signing_input = f"{_part(header)}.{_part(payload)}"
    mac = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(mac)}"
