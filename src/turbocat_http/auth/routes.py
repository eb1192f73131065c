"""``/auth``: register, login, refresh, logout, forgot-password, reset-password."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

from typing import Any

from litestar import Request, Router, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from turbocat_adapters.wire import to_wire
from turbocat_core.domain.access import Actor
from turbocat_core.domain.user import User
from turbocat_core.usecases.accounts import (
    ForgotPassword,
    Login,
    Logout,
    Refresh,
    Register,
    ResetPassword,
    Tokens,
)
from turbocat_http.auth.access import PUBLIC, SESSION_ONLY
from turbocat_http.auth.schemas import (
    ForgotPasswordIn,
    LoginIn,
    MessageData,
    RefreshIn,
    RegisterIn,
    ResetPasswordIn,
    SessionData,
    TokensData,
)
from turbocat_http.auth.security import ACTOR, client_of
from turbocat_http.dependencies import provide
from turbocat_http.envelope import ok
from turbocat_http.openapi import error_responses
from turbocat_http.schemas import Envelope

FORGOT_ANSWER = "if an account has this email, a reset link is on its way"


def _tokens(tokens: Tokens) -> dict[str, Any]:
    return {
        "accessToken": tokens.access_token,
        "refreshToken": tokens.refresh_token,
        "tokenType": tokens.token_type,
        "expiresIn": tokens.expires_in,
    }


def _session(user: User, tokens: Tokens) -> Envelope[Any]:
    return ok({"user": to_wire(user), "tokens": _tokens(tokens)})


@post("/register", status_code=HTTP_201_CREATED, responses=error_responses(409), **PUBLIC)
async def register(
    data: JSONBody[RegisterIn], request: Request[Any, Any, Any], register: NamedDependency[Register]
) -> Envelope[SessionData]:
    """Create an account (password: 8+ characters with upper, lower, digit and special, at
    most 72 bytes) and log it in. ALREADY_EXISTS when the email is taken."""
    user, tokens = await register(data.email, data.password, data.full_name, client_of(request))
    return _session(user, tokens)


@post("/login", status_code=HTTP_200_OK, responses=error_responses(401, 429), **PUBLIC)
async def login(
    data: JSONBody[LoginIn], request: Request[Any, Any, Any], login: NamedDependency[Login]
) -> Envelope[SessionData]:
    """Log in. A wrong email or password is the same INVALID_CREDENTIALS; too many failures
    for the account or the address answer RATE_LIMITED with Retry-After."""
    user, tokens = await login(data.email, data.password, client_of(request))
    return _session(user, tokens)


@post("/refresh", status_code=HTTP_200_OK, responses=error_responses(401), **PUBLIC)
async def refresh(
    data: JSONBody[RefreshIn], request: Request[Any, Any, Any], refresh: NamedDependency[Refresh]
) -> Envelope[TokensData]:
    """New tokens for a refresh token, which is then spent: presenting it again revokes
    the session (INVALID_TOKEN)."""
    tokens = await refresh(data.refresh_token, client_of(request))
    return ok({"tokens": _tokens(tokens)})


@post("/logout", status_code=HTTP_204_NO_CONTENT, **SESSION_ONLY)
async def logout(
    request: Request[Any, Any, Any], actor: NamedDependency[Actor], logout: NamedDependency[Logout]
) -> None:
    """End this session: its access and refresh tokens stop working (needs a bearer token,
    not an API key: 403)."""
    await logout(actor, client_of(request))


@post("/forgot-password", status_code=HTTP_200_OK, **PUBLIC)
async def forgot_password(
    data: JSONBody[ForgotPasswordIn],
    request: Request[Any, Any, Any],
    forgot_password: NamedDependency[ForgotPassword],
) -> Envelope[MessageData]:
    """Mail a one-hour reset link if the account exists. Always the same answer."""
    await forgot_password(data.email, client_of(request))
    return ok({"message": FORGOT_ANSWER})


@post("/reset-password", status_code=HTTP_200_OK, responses=error_responses(401), **PUBLIC)
async def reset_password(
    data: JSONBody[ResetPasswordIn],
    request: Request[Any, Any, Any],
    reset_password: NamedDependency[ResetPassword],
) -> Envelope[MessageData]:
    """Choose a new password with a reset token (once). Every session of the account ends."""
    await reset_password(data.token, data.password, client_of(request))
    return ok({"message": "the password is changed; log in again"})


router = Router(
    "/auth",
    route_handlers=[register, login, refresh, logout, forgot_password, reset_password],
    dependencies={
        "actor": ACTOR,
        **provide("register", "login", "refresh", "logout", "forgot_password", "reset_password"),
    },
    tags=["auth"],
)
