"""Users: roles, the password policy (incl. bcrypt's 72-byte limit) and email rules."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final
from uuid import UUID

from turbocat_core.domain.common import Entity, JsonObject, QuerySpec, UserId
from turbocat_core.errors import FieldError, ValidationFailed

PASSWORD_MIN_CHARS: Final = 8
PASSWORD_MAX_BYTES: Final = 72  # bcrypt ignores everything after the 72nd byte
EMAIL_MAX: Final = 254
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_EMAIL_FOLD_ROUNDS: Final = 8  # a round or two settles any string; the bound caps the cost


class UserRole(StrEnum):
    ADMIN = "ADMIN"
    USER = "USER"
    AGENT = "AGENT"


@dataclass(frozen=True, slots=True, kw_only=True)
class User(Entity):
    """An account. ``password_hash`` is for the PasswordHasher only and is never serialised."""

    id: UserId
    email: str
    password_hash: str = field(repr=False)
    full_name: str | None = None
    avatar_url: str | None = None
    role: UserRole = UserRole.USER
    is_active: bool = True
    email_verified: bool = False
    preferences: JsonObject = field(default_factory=dict)
    last_login_at: datetime | None = None
    deleted_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is UserRole.ADMIN


LOCAL_OWNER_ID: Final = UserId(UUID("00000000-0000-0000-0000-000000000001"))
"""The built-in local owner: present in every store (a migration, or ``MemoryStore()``),
it owns what an embedded program runs, so foreign keys hold with no account made by hand."""
LOCAL_OWNER_EMAIL: Final = "local@turbocat.invalid"
LOCAL_OWNER_CREATED: Final = datetime(1970, 1, 1, tzinfo=UTC)
LOCAL_OWNER_PASSWORD_HASH: Final = "!"
"""Matches no password (not a bcrypt hash); the owner is inactive too, so it cannot log in."""


def local_owner() -> User:
    """The local owner's row, as the migrations insert it (inactive, no usable password)."""
    return User(
        id=LOCAL_OWNER_ID,
        created_at=LOCAL_OWNER_CREATED,
        updated_at=LOCAL_OWNER_CREATED,
        email=LOCAL_OWNER_EMAIL,
        password_hash=LOCAL_OWNER_PASSWORD_HASH,
        full_name="Local owner",
        role=UserRole.USER,
        is_active=False,
    )


USER_QUERY: Final = QuerySpec(
    sortable=frozenset({"created_at", "updated_at", "email", "full_name", "role", "last_login_at"}),
    filterable=frozenset({"role", "is_active", "email_verified"}),
    searchable=("email", "full_name"),
    has_tags=False,
)


def canonical_email(value: str) -> str:
    """The one form an email is stored, compared and looked up in (no validation).

    NFKC (fullwidth ``Ａ`` and other compatibility forms become their plain letters), no
    Unicode format characters (category Cf: zero-width spaces and joiners, BOMs, bidi
    marks), trimmed and lower-cased; repeated until nothing changes (a few rounds at most),
    since removing or lower-casing can leave a string that NFKC would change again, so
    the result is the same for the result itself.
    """
    current = value
    for _ in range(_EMAIL_FOLD_ROUNDS):
        composed = unicodedata.normalize("NFKC", current)
        visible = "".join(ch for ch in composed if unicodedata.category(ch) != "Cf")
        folded = visible.strip().lower()
        if folded == current:
            break
        current = folded
    return current


def normalize_email(value: str) -> str:
    """:func:`canonical_email`, checked: ``ValidationFailed`` (field ``email``) unless it is
    an address of at most 254 characters."""
    email = canonical_email(value)
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        raise ValidationFailed.field("email", "must be a valid email address")
    return email


def password_problems(password: str) -> list[str]:
    """Everything wrong with a new password (empty when it is acceptable)."""
    problems = []
    if len(password) < PASSWORD_MIN_CHARS:
        problems.append(f"must be at least {PASSWORD_MIN_CHARS} characters")
    if len(password.encode("utf-8")) > PASSWORD_MAX_BYTES:
        problems.append(f"must be at most {PASSWORD_MAX_BYTES} bytes in UTF-8")
    if not any(c.isupper() for c in password):
        problems.append("must contain an upper-case letter")
    if not any(c.islower() for c in password):
        problems.append("must contain a lower-case letter")
    if not any(c.isdigit() for c in password):
        problems.append("must contain a digit")
    if all(c.isalnum() for c in password):
        problems.append("must contain a special character")
    return problems


def check_password_policy(password: str, field_name: str = "password") -> None:
    """Raise ``ValidationFailed`` listing every rule a new password breaks."""
    problems = password_problems(password)
    if problems:
        raise ValidationFailed(
            f"{field_name}: " + "; ".join(problems),
            [FieldError(field_name, problem) for problem in problems],
        )


def password_fits_hasher(password: str) -> bool:
    """Whether a password can be checked at all (login answers INVALID_CREDENTIALS if not)."""
    return 0 < len(password.encode("utf-8")) <= PASSWORD_MAX_BYTES
