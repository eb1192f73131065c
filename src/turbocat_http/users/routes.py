"""``GET/PATCH /users/me`` and ``GET /users/{id}`` (ADMIN)."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

from typing import Any
from uuid import UUID

from litestar import Request, Router, get, patch
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from turbocat_core.domain.access import Actor
from turbocat_core.domain.common import UserId
from turbocat_core.domain.user import User
from turbocat_core.usecases.users import GetMe, GetUser, UpdateMe
from turbocat_http.auth.access import SESSION_ONLY, scoped
from turbocat_http.auth.security import ACTOR, client_of
from turbocat_http.dependencies import provide
from turbocat_http.envelope import ok
from turbocat_http.openapi import error_responses
from turbocat_http.schemas import Envelope
from turbocat_http.users.schemas import UpdateMeIn

SCOPE = "users"


@get("/me", **scoped(SCOPE, "read"))
async def get_me(actor: NamedDependency[Actor], get_me: NamedDependency[GetMe]) -> Envelope[User]:
    """The caller's account."""
    return ok(await get_me(actor))


@patch("/me", **SESSION_ONLY)
async def update_me(
    data: JSONBody[UpdateMeIn],
    request: Request[Any, Any, Any],
    actor: NamedDependency[Actor],
    update_me: NamedDependency[UpdateMe],
) -> Envelope[User]:
    """Change the name, avatar or preferences; or the password, with the current one
    (INVALID_CREDENTIALS if it is wrong; the other sessions then end)."""
    return ok(await update_me(actor, data.changes(), client_of(request)))


@get("/{user_id:uuid}", **scoped(SCOPE, "read"), responses=error_responses(403))
async def get_user(
    user_id: FromPath[UUID], actor: NamedDependency[Actor], get_user: NamedDependency[GetUser]
) -> Envelope[User]:
    """Any account (ADMIN only)."""
    return ok(await get_user(actor, UserId(user_id)))


router = Router(
    "/users",
    route_handlers=[get_me, update_me, get_user],
    dependencies={"actor": ACTOR, **provide("get_me", "update_me", "get_user")},
    tags=["users"],
)
