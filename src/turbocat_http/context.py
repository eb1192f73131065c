"""What one request carries through the layers: its id and, once authenticated, its user."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from litestar.types import Scope

REQUEST_ID_HEADER: Final = "X-Request-Id"
REQUEST_ID_KEY: Final = "request_id"
USER_ID_KEY: Final = "user_id"
"""The auth layer puts the caller's id at ``scope["state"]["user_id"]``; the log reads it."""

RATE_LIMIT_KEY = "rate_limit"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def accept_request_id(raw_headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The caller's ``X-Request-Id`` if it is 1-128 of ``[A-Za-z0-9._-]``, else a new UUID."""
    for name, value in raw_headers:
        if name.lower() == b"x-request-id":
            text = value.decode("latin-1")
            if _VALID_REQUEST_ID.fullmatch(text):
                return text
            break
    return str(uuid.uuid4())


def _state(scope: Scope) -> dict[str, Any]:
    return scope.setdefault("state", {})


def request_id(scope: Scope) -> str:
    """This request's id (set by the edge middleware; made here if something runs before it)."""
    state = _state(scope)
    value = state.get(REQUEST_ID_KEY)
    if not isinstance(value, str):
        value = accept_request_id(scope.get("headers") or ())
        state[REQUEST_ID_KEY] = value
    return value


def set_request_id(scope: Scope, value: str) -> None:
    _state(scope)[REQUEST_ID_KEY] = value


def user_id(scope: Scope) -> str | None:
    """The authenticated caller, as the auth layer recorded it (``None``: anonymous)."""
    value = _state(scope).get(USER_ID_KEY)
    return None if value is None else str(value)


def set_user_id(scope: Scope, value: object) -> None:
    """Record the authenticated caller (the request log reads it)."""
    _state(scope)[USER_ID_KEY] = str(value)


def set_rate_limit(scope: Scope, limit: int, remaining: int, reset_after: float) -> None:
    """Record an API key's limit, for the ``X-RateLimit-*`` headers of the response."""
    _state(scope)[RATE_LIMIT_KEY] = (limit, remaining, reset_after)


def rate_limit(scope: Scope) -> tuple[int, int, float] | None:
    value = _state(scope).get(RATE_LIMIT_KEY)
    return value if isinstance(value, tuple) else None
