"""Who is calling: ``Authorization: Bearer <access token>`` or ``X-API-Key: <key>``.

Handlers ask for ``actor: NamedDependency[Actor]`` (the router provides ``actor`` with
:data:`ACTOR`); a route that needs a login session rather than a key checks
:func:`session_only`, and API keys are checked against the route's scope with
``require_scope`` (``turbocat_core.domain.access``).
"""

# No ``from __future__ import annotations``: Litestar reads the provider's signature.

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from turbocat_core.domain.access import Actor
from turbocat_core.errors import PermissionDenied, Unauthenticated
from turbocat_core.usecases.accounts import Client
from turbocat_http.context import set_rate_limit, set_user_id
from turbocat_http.dependencies import container_of

MAX_CREDENTIAL = 4096  # no valid token or key is longer; refuse bigger ones unread


def client_of(request: Request[Any, Any, Any]) -> Client:
    """The caller's address (as the server sees it; behind a trusted proxy, the proxy's
    forwarded one) and user agent, for the audit log and login throttling."""
    host = request.client.host if request.client else None
    agent = request.headers.get("user-agent")
    return Client(ip=host, user_agent=agent[:512] if agent else None)


async def _current_actor(request: Request[Any, Any, State]) -> Actor:
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


ACTOR = Provide(_current_actor)
"""``dependencies={"actor": ACTOR}`` on a router that needs an authenticated caller."""


def session_only(actor: Actor) -> None:
    """Refuse API keys where a login session is needed (account and key management)."""
    if actor.api_key_id is not None:
        raise PermissionDenied("this needs a login session (a bearer token), not an API key")
