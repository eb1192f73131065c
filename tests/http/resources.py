"""For the resource APIs' tests: an app on each store (in-memory, PostgreSQL), with users.

    async def test_something(api):          # the `api` fixture: one run per store kind
        ada = await api.user("ada@example.com")
        response = await api.client.post(f"{API}/agents", json={...}, headers=ada.headers)

``api.user()`` registers a USER and logs it in; ``api.admin()`` makes an ADMIN;
``api.key(owner, scopes)`` makes an API key and its headers. Routers not yet listed in
``turbocat_http.routes.API_ROUTERS`` can be mounted with ``make_api(..., routers=[...])``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import pytest
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.databases import truncate_everything
from tests.http.conftest import API, container_for, http_settings
from turbocat_adapters.container import Container
from turbocat_adapters.memory import ManualClock
from turbocat_core.domain.user import UserRole
from turbocat_http.app import create_app

PASSWORD = "Correct-Horse-9"
T = TypeVar("T")
API_STORES = ["memory", "postgres"]


@dataclasses.dataclass(frozen=True)
class Person:
    """A logged-in account: its id, email and request headers (bearer token)."""

    id: UUID
    email: str
    headers: dict[str, str]
    role: str = "USER"


@dataclasses.dataclass
class Api:
    client: AsyncTestClient[Litestar]
    container: Container
    kind: str

    async def user(self, email: str = "ada@example.com", role: UserRole = UserRole.USER) -> Person:
        if role is UserRole.USER:
            created = await self.client.post(
                f"{API}/auth/register", json={"email": email, "password": PASSWORD}
            )
            assert created.status_code == 201, created.text
        else:
            self.in_app(self.container.create_user(), email, PASSWORD, role=role)
        logged_in = await self.client.post(
            f"{API}/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert logged_in.status_code == 200, logged_in.text
        data = logged_in.json()["data"]
        token = data["tokens"]["accessToken"]
        return Person(
            id=UUID(data["user"]["id"]),
            email=email,
            headers={"Authorization": f"Bearer {token}"},
            role=data["user"]["role"],
        )

    def in_app(self, function: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """``await function(*args, **kwargs)`` on the app's event loop.

        The test client serves the app from a thread and loop of its own; the store's pool
        and the queue belong to that loop, so direct access to them must run there.
        """
        return self.client.blocking_portal.call(functools.partial(function, *args, **kwargs))

    async def admin(self, email: str = "root@example.com") -> Person:
        return await self.user(email, UserRole.ADMIN)

    async def key(
        self, owner: Person, scopes: Sequence[str] = ("*",), rate_limit: int = 1000
    ) -> dict[str, str]:
        """Headers carrying a new API key of ``owner`` with ``scopes``."""
        created = await self.client.post(
            f"{API}/api-keys",
            json={"name": "test key", "scopes": list(scopes), "rateLimitPerMinute": rate_limit},
            headers=owner.headers,
        )
        assert created.status_code == 201, created.text
        return {"X-API-Key": created.json()["data"]["key"]}


@contextlib.asynccontextmanager
async def make_api(
    kind: str,
    *,
    postgres_dsn: str | None = None,
    routers: Sequence[Any] = (),
    clock: ManualClock | None = None,
    **settings: Any,
) -> AsyncIterator[Api]:
    """An app on a fresh store of ``kind`` ("memory" or "postgres"), started."""
    database_url = "memory://"
    if kind == "postgres":
        assert postgres_dsn is not None
        await truncate_everything(postgres_dsn)
        database_url = postgres_dsn
    container = container_for(http_settings(database_url=database_url, **settings))
    if clock is not None:
        container.clock.override(providers.Object(clock))
    app = create_app(container, routers=routers)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        yield Api(client=client, container=container, kind=kind)


@pytest.fixture(params=API_STORES)
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    """An app per store kind, with every registered API router."""
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    async with make_api(request.param, postgres_dsn=dsn) as started:
        yield started
