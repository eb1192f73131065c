"""Identity and secrets: passwords, tokens, login sessions, rate limits, sealed secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from turbocat_core.domain.common import UserId
from turbocat_core.domain.session import Session


class PasswordHasher(Protocol):
    """Slow, salted password hashing (bcrypt); runs off the event loop."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password: str, password_hash: str) -> bool:
        """``False`` for a wrong password or an unusable hash; never raises for bad input."""
        ...


class TokenIssuer(Protocol):
    """Signed tokens (JWT) with a pinned algorithm."""

    def issue(self, claims: Mapping[str, Any], ttl_seconds: int) -> str: ...

    def verify(self, token: str, expected_type: str) -> dict[str, Any]:
        """The claims, or ``Unauthenticated`` (code TOKEN_EXPIRED or INVALID_TOKEN)."""
        ...


class SessionStore(Protocol):
    """Login sessions and their refresh-token family."""

    async def put(self, session: Session) -> None: ...

    async def get(self, session_id: UUID) -> Session | None: ...

    async def rotate(
        self,
        session_id: UUID,
        expected_hash: str,
        new_hash: str,
        expires_at: datetime,
        now: datetime,
    ) -> bool:
        """Swap the refresh hash, only if the session is not revoked and still holds
        ``expected_hash`` (a compare-and-set: of two refreshes with one token, one wins,
        and a refresh racing a logout never brings the session back). ``False``: nothing
        was written."""
        ...

    async def revoke(self, session_id: UUID) -> None: ...

    async def revoke_all(self, user_id: UserId, *, keep: UUID | None = None) -> int:
        """Revoke every session of a user (but ``keep``); how many were newly revoked."""
        ...


class OneTimeTokens(Protocol):
    """Single-use tokens with a time to live (password reset)."""

    async def put(self, token_hash: str, subject: str, ttl_seconds: int) -> None: ...

    async def take(self, token_hash: str) -> str | None:
        """The subject, once: the token is gone afterwards (also when expired: ``None``)."""
        ...

    async def forget(self, subject: str) -> int:
        """Delete every token of ``subject`` (e.g. the other reset links once one is used)."""
        ...


class ReplayGuard(Protocol):
    """Keys accepted once within a time to live (signed webhooks: a request is not replayed).

    Expiry follows the injected clock's time, shared by processes; expired keys are
    deleted by later writes, so nothing piles up.
    """

    async def first_use(self, key: str, ttl_seconds: int) -> bool:
        """``True`` if ``key`` is not remembered (never used, forgotten or expired): it is
        then remembered for ``ttl_seconds``. ``False`` while it is remembered. Atomic: of
        concurrent calls with one key, in any processes, exactly one gets ``True``."""
        ...

    async def forget(self, key: str) -> None:
        """Forget ``key`` at once (a use that started nothing may come again)."""
        ...


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    """Seconds until the window has room again (Retry-After when refused)."""


class RateLimiter(Protocol):
    """A sliding-window limit, atomic across processes sharing the store."""

    async def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        """Count one hit if the window has room (a refused hit is not counted)."""
        ...

    async def peek(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        """What ``hit`` would answer, without counting anything."""
        ...

    async def reset(self, key: str) -> None:
        """Forget every hit of ``key`` (e.g. failed logins, after a successful one)."""
        ...


class SecretBox(Protocol):
    """Authenticated encryption of small secrets (AES-256-GCM), with key ids for rotation."""

    def encrypt(self, plaintext: str) -> str: ...

    def decrypt(self, token: str) -> str:
        """The plaintext; ``ValidationFailed`` for a token that was tampered with."""
        ...
