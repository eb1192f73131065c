"""API keys: the key format, its SHA-256 fingerprint, and scope rules."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from turbocat_core.domain.common import ApiKeyId, Entity, QuerySpec, UserId
from turbocat_core.errors import FieldError, ValidationFailed

KEY_PREFIX: Final = "tck_"
"""Every key starts with this, so scanners and people recognise a leaked Turbocat key."""
KEY_SECRET_CHARS: Final = 43  # 32 random bytes in URL-safe base64, without padding: 256 bits
KEY_DISPLAY_CHARS: Final = 12  # what `keyPrefix` keeps for people to tell keys apart
_KEY: Final = re.compile(r"^tck_[A-Za-z0-9_-]{43}$")

SCOPE_RESOURCES: Final = (
    "agents",
    "workflows",
    "executions",
    "templates",
    "deployments",
    "analytics",
)
"""Resources with a ``read`` and a ``write`` scope (``write`` implies ``read``)."""
SCOPE_ACTIONS: Final = ("read", "write")
ACCOUNT_SCOPES: Final = ("users:read",)
"""Account routes a key may reach: reading the account (``GET /users/me``; any account,
``GET /users/{id}``, for an ADMIN's key). Keys never change accounts or keys: there is no
``users:write``."""
SCOPES: Final = (
    *(f"{resource}:{action}" for resource in SCOPE_RESOURCES for action in SCOPE_ACTIONS),
    *ACCOUNT_SCOPES,
)
"""Every scope a key may hold, besides ``*`` (every scope)."""
ALL_SCOPES: Final = "*"
DEFAULT_RATE_LIMIT: Final = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey(Entity):
    """A stored key: only its hash and a short display prefix are kept."""

    id: ApiKeyId
    user_id: UserId
    name: str
    key_prefix: str
    key_hash: str = field(repr=False)
    scopes: tuple[str, ...] = (ALL_SCOPES,)
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    usage_count: int = 0
    is_active: bool = True
    deleted_at: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        """Active, not revoked, not expired."""
        return (
            self.is_active
            and self.deleted_at is None
            and (self.expires_at is None or now < self.expires_at)
        )


API_KEY_QUERY: Final = QuerySpec(
    sortable=frozenset({"created_at", "name", "last_used_at", "expires_at"}),
    filterable=frozenset({"is_active"}),
    searchable=("name",),
    has_tags=False,
)


def make_key(secret: str) -> str:
    """The full key shown to the user once, from a 43-character URL-safe random secret."""
    key = KEY_PREFIX + secret
    if not _KEY.match(key):
        raise ValueError("an API key secret is 43 URL-safe base64 characters")
    return key


def looks_like_key(raw: str) -> bool:
    """Whether ``raw`` has the shape of a Turbocat API key (cheap check before any lookup)."""
    return bool(_KEY.match(raw))


def hash_key(raw: str) -> str:
    """The SHA-256 hex digest stored as ``keyHash`` (keys are random, so no salt is needed)."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def display_prefix(raw: str) -> str:
    return raw[:KEY_DISPLAY_CHARS]


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Validate scopes (one of :data:`SCOPES`, or ``*``); an empty list means ``*``."""
    cleaned: dict[str, None] = {}
    problems = []
    for index, scope in enumerate(scopes):
        if scope != ALL_SCOPES and scope not in SCOPES:
            problems.append(
                FieldError(
                    f"scopes.{index}",
                    f"unknown scope {scope!r}; use <resource>:read|write with resource one "
                    f"of {', '.join(SCOPE_RESOURCES)}, or {', '.join(ACCOUNT_SCOPES)}, or *",
                )
            )
        cleaned.setdefault(scope, None)
    if problems:
        raise ValidationFailed("invalid scopes", problems)
    return tuple(cleaned) or (ALL_SCOPES,)


def scope_allows(scopes: Iterable[str], resource: str, action: str) -> bool:
    """``*`` allows everything; ``x:write`` implies ``x:read``."""
    granted = set(scopes)
    if ALL_SCOPES in granted or f"{resource}:{action}" in granted:
        return True
    return action == "read" and f"{resource}:write" in granted


def check_rate_limit(value: int) -> int:
    if not 1 <= value <= 100_000:
        raise ValidationFailed.field("rate_limit_per_minute", "must be between 1 and 100000")
    return value
