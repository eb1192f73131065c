"""What an API key reaches, route by route: the app's routes, each route's declared rule and
the table in docs/api.md agree, and a key of each single scope reaches exactly the routes the
table names for it (SPEC §6: a key reaches account routes only with a scope naming them)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

from litestar import Litestar
from litestar.routes import HTTPRoute

from tests.http.conftest import API, assert_error, build_app
from tests.http.resources import Api
from turbocat_core.domain.api_key import ALL_SCOPES, SCOPES, scope_allows
from turbocat_http.auth.access import access_of
from turbocat_http.console import CONSOLE_OPT
from turbocat_http.routes import API_PREFIX

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`]*)`")
_PARAM = re.compile(r"\{[^}]*\}")

Route = tuple[str, str]  # (method, path with its parameters as "{}")


def _shape(path: str) -> str:
    """``/api/v1/agents/{agent_id:uuid}`` and ``/agents/{id}`` alike: ``/agents/{}``."""
    if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
        path = path.removeprefix(API_PREFIX) or "/"
    return _PARAM.sub("{}", path)


def docs_table() -> dict[Route, str]:
    """The routes of docs/api.md's table of scopes: (method, path) -> its rule."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("### Routes and API-key scopes", 1)[1].split("\n#", 1)[0]
    table: dict[Route, str] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        routes_cell, rule_cell = line.strip("|").split("|")[:2]
        rule = re.search(r"`([^`]+)`", rule_cell)
        assert rule is not None, line
        for method, path in _ROUTE.findall(routes_cell):
            route = (method, _shape(path))
            assert route not in table, f"{route} is listed twice"
            table[route] = rule.group(1)
    return table


def app_routes(app: Litestar) -> Iterator[tuple[Route, str, object]]:
    """Each (method, shape) of the app, with a concrete path and its handler (the console's
    pages are not the API's: they sign in by cookie and take no key, docs/console.md)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.opt.get(CONSOLE_OPT):
                continue
            for method in sorted(handler.http_methods):
                if method in METHODS:
                    concrete = _PARAM.sub(lambda _: str(uuid.uuid4()), route.path)
                    yield (method, _shape(route.path)), concrete, handler


def admits(rule: str, scope: str) -> bool:
    """Whether the table lets a key holding only ``scope`` reach a route with ``rule``."""
    if rule == "public":
        return True
    if rule == "session":
        return False
    resource, _, action = rule.partition(":")
    return scope_allows((scope,), resource, action)


def test_the_docs_table_lists_every_route_with_the_rule_it_declares():
    table = docs_table()
    app = build_app(routers=())
    seen: dict[Route, object] = {}
    for route, _, handler in app_routes(app):
        assert route not in seen, f"two handlers answer {route}"
        seen[route] = handler
    assert set(seen) == set(table), (
        f"routes missing from docs/api.md: {sorted(set(seen) - set(table))}; "
        f"listed but absent: {sorted(set(table) - set(seen))}"
    )
    for route, handler in seen.items():
        access = access_of(handler)  # type: ignore[arg-type]
        if access is None:  # the health probes and the OpenAPI pages: outside the guard
            assert table[route] == "public", route
            assert not route[1].startswith(("/agents", "/workflows", "/users", "/auth")), route
        else:
            assert access.label == table[route], route


async def test_a_key_of_each_scope_reaches_exactly_the_routes_the_docs_name(api: Api):
    """Every route of the app, with a key holding one scope (an ADMIN's, so roles never stand
    in the way): 403 FORBIDDEN exactly where the docs' table does not name the scope. Bodies
    are empty objects and ids unknown, so nothing is created or changed."""
    table = docs_table()
    admin = await api.admin()
    app = api.client.app
    routes = list(app_routes(app))
    for scope in (*SCOPES, ALL_SCOPES):
        headers = await api.key(admin, [scope], rate_limit=100_000)
        for route, path, _ in routes:
            method = route[0]
            body = b"{}" if method in ("POST", "PUT", "PATCH") else None
            response = await api.client.request(
                method,
                path,
                content=body,
                headers={**headers, "Content-Type": "application/json"},
            )
            refused = response.status_code == 403
            if refused:
                assert_error(response, 403, "FORBIDDEN")
            expected = admits(table[route], scope)
            assert refused is not expected, (scope, route, response.status_code, response.text)


async def test_an_admins_key_reads_accounts_only_with_users_read(api: Api):
    """Issue 11, item 9: an ADMIN's key scoped agents:read read any account."""
    admin = await api.admin()
    bob = await api.user("bob@example.com")
    target = f"{API}/users/{bob.id}"
    for scopes in (["agents:read"], ["agents:write", "workflows:write", "analytics:read"]):
        narrow = await api.key(admin, scopes)
        assert_error(await api.client.get(target, headers=narrow), 403, "FORBIDDEN")
        assert_error(await api.client.get(f"{API}/users/me", headers=narrow), 403, "FORBIDDEN")
    for scopes in (["users:read"], ["*"]):
        allowed = await api.key(admin, scopes)
        response = await api.client.get(target, headers=allowed)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["email"] == "bob@example.com"
    # A USER's key with users:read still reads only its own account.
    own = await api.key(bob, ["users:read"])
    assert (await api.client.get(f"{API}/users/me", headers=own)).status_code == 200
    assert_error(await api.client.get(f"{API}/users/{bob.id}", headers=own), 403, "FORBIDDEN")
