"""HTTP test helpers: apps over a memory store (or any settings), with the probe routes."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.http.probe import probe_router, raising_router
from turbocat_adapters.container import Container
from turbocat_adapters.settings import Settings
from turbocat_http.app import create_app

API = "/api/v1"


def http_settings(**overrides: Any) -> Settings:
    base = Settings.load({}, Path("/nonexistent/.env"))
    defaults = {
        "database_url": "memory://",
        "jwt_secret": "http-tests-" + "s" * 40,
        "encryption_key": "A" * 43,
        "bcrypt_rounds": 4,
    }
    return dataclasses.replace(base, **{**defaults, **overrides})


def container_for(settings: Settings) -> Container:
    return Container(settings=providers.Object(settings))


def build_app(
    routers: Sequence[Any] = (probe_router, raising_router), **overrides: Any
) -> Litestar:
    return create_app(container_for(http_settings(**overrides)), routers=routers)


@contextlib.asynccontextmanager
async def serve(
    app: Litestar | None = None, base_url: str = "http://testserver.local", **overrides: Any
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app or build_app(**overrides), base_url=base_url) as client:
        client.follow_redirects = False  # the HTTPS redirect is under test
        yield client


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with serve() as client:
        yield client


@pytest.fixture
def make_client() -> Callable[..., contextlib.AbstractAsyncContextManager[Any]]:
    """``async with make_client(env="production") as client`` (settings overrides)."""
    return serve


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The SPEC §3 error envelope with this status and code; its ``error`` object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    error = body["error"]
    assert set(error) <= {"code", "message", "details", "requestId"}
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert error["requestId"] == response.headers["x-request-id"]
    return error


@dataclasses.dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body)


async def raw_request(
    app: Litestar,
    method: str,
    path: str,
    *,
    query_string: bytes = b"",
    headers: Sequence[tuple[bytes, bytes]] = (),
    chunks: Sequence[bytes] = (),
    scheme: str = "http",
) -> RawResponse:
    """One exchange straight through the ASGI interface: bytes no HTTP client would send
    (NUL in the path, bad lengths) and bodies in chunks without a ``Content-Length``."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "root_path": "",
        "query_string": query_string,
        "headers": [(b"host", b"testserver.local"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver.local", 80),
        "state": {},
    }
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks or [b""])
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    return RawResponse(
        status=start["status"],
        headers={k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]},
        body=b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"),
    )


def assert_raw_error(response: RawResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, response.body
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == code, body
    assert body["error"]["requestId"] == response.headers["x-request-id"]
    return body["error"]  # type: ignore[no-any-return]


# The resource APIs' fixture (`api`: an app per store kind). Imported last: it uses the
# helpers above.
from tests.http.resources import api  # noqa: E402, F401
