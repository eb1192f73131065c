"""Bodies and answers of the /auth routes (camelCase on the wire)."""

# No ``from __future__ import annotations``: msgspec reads the annotations at run time.

from typing import Annotated

import msgspec

from turbocat_core.domain.user import User

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, examples=["ada@example.com"])]
# The policy (8+ characters, at most 72 bytes...) is the core's; this only bounds the body.
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]


class RegisterIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    email: Email
    password: Password
    full_name: Annotated[str, msgspec.Meta(max_length=255)] | None = None


class LoginIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    password: Password


class RefreshIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    refresh_token: Token


class ForgotPasswordIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=254)]


class ResetPasswordIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    token: Token
    password: Password


class TokensOut(msgspec.Struct, rename="camel"):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


class TokensData(msgspec.Struct):
    tokens: TokensOut


class SessionData(msgspec.Struct):
    """What register and login answer: the account and its first tokens."""

    user: User
    tokens: TokensOut


class MessageData(msgspec.Struct):
    message: str
