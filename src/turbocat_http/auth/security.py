"""Who is calling: ``Authorization: Bearer <access token>`` or ``X-API-Key: <key>``.

Handlers ask for ``actor: NamedDependency[Actor]`` (the router provides ``actor`` with
:data:`ACTOR`, or :data:`OPTIONAL_ACTOR` where credentials are optional). Which routes a
key may reach is declared per route and enforced in ``turbocat_http.auth.access``, which
authenticates first; the actor is then kept for the request, so a key is looked up (and
counted against its limit) once.
"""

# No ``from __future__ import annotations``: Litestar reads the provider's signature.

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import Provide

from turbocat_core.domain.access import Actor
from turbocat_core.errors import Unauthenticated
from turbocat_core.usecases.accounts import Client
from turbocat_http.context import set_rate_limit, set_user_id
from turbocat_http.dependencies import container_of

MAX_CREDENTIAL = 4096  # no valid token or key is longer; refuse bigger ones unread
ACTOR_KEY = "turbocat_actor"
"""Where the authenticated caller is kept for the rest of the request (``scope["state"]``)."""


def client_of(request: Request[Any, Any, Any]) -> Client:
    """The caller's address (as the server sees it; behind a trusted proxy, the proxy's
    forwarded one) and user agent, for the audit log and login throttling."""
    host = request.client.host if request.client else None
    agent = request.headers.get("user-agent")
    return Client(ip=host, user_agent=agent[:512] if agent else None)


def has_credentials(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Whether the request carries a bearer token or an API key (valid or not)."""
    headers = connection.headers
    return bool(headers.get("authorization") or headers.get("x-api-key"))


async def authenticate(request: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    """The caller, once per request (``Unauthenticated`` without valid credentials)."""
    state = request.scope.setdefault("state", {})
    known = state.get(ACTOR_KEY)
    if isinstance(known, Actor):
        return known
    actor = await _authenticated(request)
    state[ACTOR_KEY] = actor
    return actor


async def _authenticated(request: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    container = container_of(request.app.state)
    authorization = request.headers.get("authorization")
    key = request.headers.get("x-api-key")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_CREDENTIAL:
            raise Unauthenticated("use Authorization: Bearer <access token>", code="INVALID_TOKEN")
        actor: Actor = await container.authenticate()(token)
    elif key:
        if len(key) > MAX_CREDENTIAL:
            raise Unauthenticated(
                "the API key is invalid, revoked or expired", code="INVALID_TOKEN"
            )
        actor, decision = await container.authenticate_api_key()(key.strip())
        set_rate_limit(request.scope, decision.limit, decision.remaining, decision.reset_after)
    else:
        raise Unauthenticated("authentication required: a bearer token or an X-API-Key")
    set_user_id(request.scope, actor.user_id)
    return actor


async def _current_actor(request: Request[Any, Any, State]) -> Actor:
    return await authenticate(request)


async def _optional_actor(request: Request[Any, Any, State]) -> Actor | None:
    return await authenticate(request) if has_credentials(request) else None


ACTOR = Provide(_current_actor)
"""``dependencies={"actor": ACTOR}`` on a router that needs an authenticated caller."""
OPTIONAL_ACTOR = Provide(_optional_actor)
"""``None`` when the request carries no credentials; otherwise what ``ACTOR`` gives."""
