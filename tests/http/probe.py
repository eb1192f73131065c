"""Throwaway routes for the HTTP tests, mounted through ``create_app(routers=...)``."""

# No ``from __future__ import annotations``: Litestar reads these handler signatures.

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from turbocat_core.domain.common import Page, UserId
from turbocat_core.domain.user import USER_QUERY, User, UserRole
from turbocat_core.errors import (
    AlreadyExists,
    Conflict,
    CycleDetected,
    ExternalServiceError,
    FieldError,
    InvalidState,
    NotConfigured,
    NotFound,
    PermissionDenied,
    RateLimited,
    TurbocatError,
    Unauthenticated,
    ValidationFailed,
)
from turbocat_http.envelope import ListParams, list_query, ok, paged
from turbocat_http.openapi import AUTHENTICATED
from turbocat_http.schemas import Envelope, PageEnvelope

SECRET = "hunter2-s3cr3t"

ERRORS: dict[str, Any] = {
    "not-found": lambda: NotFound("agent", "42"),
    "validation": lambda: ValidationFailed(
        "bad input", [FieldError("name", "must not be empty"), FieldError("tags.0", "too long")]
    ),
    "snake-paths": lambda: ValidationFailed(
        "steps.0.retry_count: too many (and 1 more)",
        [
            FieldError("steps.0.retry_count", "too many"),
            FieldError("environment_variables.API_KEY", "must be text"),
        ],
    ),
    "cycle": lambda: CycleDetected(["a", "b", "c", "a"]),
    "conflict-worded-as-duplicate": lambda: Conflict("a lease already exists elsewhere"),
    "already-exists": lambda: AlreadyExists("a user with this email already exists"),
    "conflict": lambda: Conflict("the row is being changed by another transaction; try again"),
    "invalid-state": lambda: InvalidState("the execution has already finished"),
    "unauthenticated": lambda: Unauthenticated(),
    "invalid-credentials": lambda: Unauthenticated(
        "wrong email or password", "INVALID_CREDENTIALS"
    ),
    "token-expired": lambda: Unauthenticated("the token has expired", "TOKEN_EXPIRED"),
    "invalid-token": lambda: Unauthenticated("the token is invalid", "INVALID_TOKEN"),
    "odd-auth-code": lambda: Unauthenticated("who are you", "SOMETHING_ELSE"),
    "forbidden": lambda: PermissionDenied("admins only"),
    "rate-limited": lambda: RateLimited(12.2),
    "rate-limited-short": lambda: RateLimited(0.01),
    "rate-limited-key": lambda: RateLimited(30, limit=60),
    "external": lambda: ExternalServiceError(
        f"connection to 10.0.0.5 failed: password {SECRET} rejected", service="postgres"
    ),
    "not-configured": lambda: NotConfigured("no node runtime is configured"),
    "bare": lambda: TurbocatError(f"something odd {SECRET}"),
    "crash": lambda: RuntimeError(f"SELECT password FROM users WHERE token = '{SECRET}'"),
}


@get("/raise/{kind:str}")
async def raise_error(kind: FromPath[str]) -> None:
    raise ERRORS[kind]()


raising_router = Router("/probe", route_handlers=[raise_error], include_in_schema=False)


class Step(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    step_key: str
    retry_count: Annotated[int, msgspec.Meta(ge=0, le=10)] = 0


class EchoIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    full_name: str
    count: int = 0
    steps: list[Step] = []


@post("/echo")
async def echo(data: JSONBody[EchoIn]) -> Envelope[EchoIn]:
    return ok(data)


@post("/maybe", status_code=200)
async def maybe(data: JSONBody[EchoIn | None] = None) -> Envelope[str]:
    return ok("none" if data is None else data.full_name)


T0 = datetime(2025, 1, 1, tzinfo=UTC)
USERS = [
    User(
        id=UserId(uuid.UUID(int=n + 1)),
        created_at=T0.replace(day=n + 1),
        updated_at=T0.replace(day=n + 1),
        email=f"user{n}@example.com",
        password_hash=f"$2b$12${SECRET}",
        full_name=f"User {n}",
        role=UserRole.ADMIN if n == 0 else UserRole.USER,
    )
    for n in range(25)
]


@get("/users")
async def list_users(
    listing: NamedDependency[ListParams], role: FromQuery[UserRole | None] = None
) -> PageEnvelope[User]:
    query = list_query(listing, USER_QUERY, filters={"role": role})
    rows = [u for u in USERS if all(getattr(u, k) == v for k, v in query.filters.items())]
    rows.sort(key=lambda u: getattr(u, query.sort_by) or "", reverse=query.sort_order == "desc")
    items = rows[query.offset : query.offset + query.page_size]
    return paged(Page(items=items, total=len(rows), page=query.page, page_size=query.page_size))


@get("/users/{user_id:uuid}")
async def get_user(user_id: FromPath[uuid.UUID]) -> Envelope[User]:
    for user in USERS:
        if user.id == user_id:
            return ok(user)
    raise NotFound("user", user_id)


@get("/secured", security=AUTHENTICATED)
async def secured() -> Envelope[bool]:
    return ok(True)


probe_router = Router(
    "/probe", route_handlers=[echo, maybe, list_users, get_user, secured], tags=["probe"]
)


def requires_user(connection: Any, handler: Any) -> None:
    """Stands for the auth layer's guard: nobody is authenticated here."""
    raise Unauthenticated()


@post("/echo")
async def guarded_echo(data: JSONBody[EchoIn]) -> None:
    raise AssertionError("the guard refuses first")


guarded_router = Router(
    "/guarded", route_handlers=[guarded_echo], guards=[requires_user], include_in_schema=False
)
