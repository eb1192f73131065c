"""Who is using the console: the API's accounts and sessions, carried in cookies.

The login use case's tokens go into two httpOnly, ``SameSite=Strict`` cookies (``Secure`` in
production), never into anything a script can read. An expired access token is renewed with
the refresh token (the API's rotation: the spent one is then useless) on page loads and form
posts; an htmx request or the live stream with an expired token answers 401 and the page
reloads itself, so two requests of one page never race to spend the same refresh token.
Unsafe methods are checked by Litestar's CSRF middleware (``csrf_config``).
"""

# No ``from __future__ import annotations``: Litestar reads the provider's signature.

import hashlib
import hmac
from typing import Any, Final, TypeVar

from litestar import Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import Cookie, State
from litestar.di import Provide
from litestar.plugins.htmx import HTMXRequest

from turbocat_adapters.settings import Settings
from turbocat_core.domain.access import Actor
from turbocat_core.errors import Unauthenticated
from turbocat_core.usecases.accounts import Tokens
from turbocat_http.auth.security import MAX_CREDENTIAL, client_of
from turbocat_http.context import set_user_id
from turbocat_http.dependencies import container_of

ResponseT = TypeVar("ResponseT", bound=Response[Any])

ACCESS_COOKIE: Final = "turbocat_access"
REFRESH_COOKIE: Final = "turbocat_refresh"
CSRF_COOKIE: Final = "turbocat_csrf"
CSRF_HEADER: Final = "x-csrftoken"
CSRF_FIELD: Final = "_csrf_token"
"""The form field Litestar's CSRF middleware reads (its name is fixed there)."""
RENEWED_KEY: Final = "console_tokens"
"""Where a request that renewed its tokens keeps them for :func:`with_renewed_cookies`."""


def csrf_config(settings: Settings) -> CSRFConfig:
    """Double-submit tokens signed with a key derived from the JWT secret."""
    assert settings.jwt_secret is not None  # create_app refuses settings without one
    secret = hmac.new(
        settings.jwt_secret.encode(), b"turbocat-console-csrf", hashlib.sha256
    ).hexdigest()
    return CSRFConfig(
        secret=secret,
        cookie_name=CSRF_COOKIE,
        header_name=CSRF_HEADER,
        cookie_httponly=True,
        cookie_samesite="strict",
        cookie_secure=settings.production,
        cookie_path="/",
    )


def _cookie(name: str, value: str, max_age: int, settings: Settings) -> Cookie:
    return Cookie(
        key=name,
        value=value,
        httponly=True,
        samesite="strict",
        secure=settings.production,
        path="/",
        max_age=max_age,
    )


def session_cookies(tokens: Tokens, settings: Settings) -> list[Cookie]:
    return [
        _cookie(ACCESS_COOKIE, tokens.access_token, tokens.expires_in, settings),
        _cookie(REFRESH_COOKIE, tokens.refresh_token, settings.refresh_token_ttl, settings),
    ]


def cleared_cookies(settings: Settings) -> list[Cookie]:
    return [_cookie(name, "", 0, settings) for name in (ACCESS_COOKIE, REFRESH_COOKIE)]


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    """A request htmx made (``HTMXRequest.htmx``; the header itself where Litestar built a
    plain request, as for an error raised before routing)."""
    if isinstance(request, HTMXRequest):
        return bool(request.htmx)
    return request.headers.get("hx-request") == "true"


def may_renew(request: Request[Any, Any, Any]) -> bool:
    """Only a page load or a form post renews tokens (see the module docstring)."""
    if is_htmx(request):
        return False
    return "text/event-stream" not in (request.headers.get("accept") or "")


async def console_actor(request: Request[Any, Any, Any]) -> Actor:
    """The signed-in user, or ``Unauthenticated`` (the console's handler sends them to the
    sign-in page)."""
    container = container_of(request.app.state)
    access = request.cookies.get(ACCESS_COOKIE)
    if access and len(access) <= MAX_CREDENTIAL:
        try:
            actor: Actor = await container.authenticate()(access)
        except Unauthenticated:
            pass
        else:
            set_user_id(request.scope, actor.user_id)
            return actor
    refresh = request.cookies.get(REFRESH_COOKIE)
    if not refresh or len(refresh) > MAX_CREDENTIAL or not may_renew(request):
        raise Unauthenticated("sign in to use the console")
    tokens = await container.refresh()(refresh, client_of(request))
    actor = await container.authenticate()(tokens.access_token)
    request.scope.setdefault("state", {})[RENEWED_KEY] = tokens
    set_user_id(request.scope, actor.user_id)
    return actor


def with_renewed_cookies(request: Request[Any, Any, Any], response: ResponseT) -> ResponseT:
    """A request that renewed its tokens hands the new ones back with its response."""
    tokens = request.scope.get("state", {}).get(RENEWED_KEY)
    if isinstance(tokens, Tokens):
        settings: Settings = container_of(request.app.state).settings()
        response.cookies.extend(session_cookies(tokens, settings))
    return response


async def _actor(request: Request[Any, Any, State]) -> Actor:
    return await console_actor(request)


CONSOLE_ACTOR = Provide(_actor)
