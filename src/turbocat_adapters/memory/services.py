"""In-memory sessions, one-time tokens and a sliding-window rate limiter."""

from __future__ import annotations

from collections import deque
from datetime import datetime
from itertools import islice
from uuid import UUID

from turbocat_adapters.memory.copying import shallow_with
from turbocat_core import ports
from turbocat_core.domain.common import UserId
from turbocat_core.domain.session import Session
from turbocat_core.ports.security import RateDecision


class MemorySessionStore:
    """Sessions by id, with an index by user for ``revoke_all``.

    ``revoke`` keeps the session and sets ``revoked_at`` (the clock's now; an earlier
    revocation time is kept), so ``get`` of a revoked session returns it with
    ``revoked_at`` set and refresh-token reuse can still be recognised. Sessions are frozen
    values without mutable fields, so they are stored and returned as they are.
    """

    def __init__(self, clock: ports.Clock) -> None:
        self._clock = clock
        self._sessions: dict[UUID, Session] = {}
        self._by_user: dict[UserId, set[UUID]] = {}

    async def put(self, session: Session) -> None:
        """Insert or replace the session of ``session.id``."""
        previous = self._sessions.get(session.id)
        if previous is not None and previous.user_id != session.user_id:
            self._by_user.get(previous.user_id, set()).discard(session.id)
        self._sessions[session.id] = session
        self._by_user.setdefault(session.user_id, set()).add(session.id)

    async def get(self, session_id: UUID) -> Session | None:
        return self._sessions.get(session_id)

    async def rotate(
        self,
        session_id: UUID,
        expected_hash: str,
        new_hash: str,
        expires_at: datetime,
        now: datetime,
    ) -> bool:
        session = self._sessions.get(session_id)
        if (
            session is None
            or session.revoked_at is not None
            or session.refresh_hash != expected_hash
        ):
            return False
        self._sessions[session_id] = shallow_with(
            session, refresh_hash=new_hash, expires_at=expires_at, last_used_at=now
        )
        return True

    async def revoke(self, session_id: UUID) -> None:
        session = self._sessions.get(session_id)
        if session is not None and session.revoked_at is None:
            self._sessions[session_id] = shallow_with(session, revoked_at=self._clock.now())

    async def revoke_all(self, user_id: UserId, *, keep: UUID | None = None) -> int:
        """Revoke every session of the user but ``keep``; how many were not revoked before."""
        now = self._clock.now()
        count = 0
        for session_id in self._by_user.get(user_id, ()):
            if session_id == keep:
                continue
            session = self._sessions[session_id]
            if session.revoked_at is None:
                self._sessions[session_id] = shallow_with(session, revoked_at=now)
                count += 1
        return count


class MemoryOneTimeTokens:
    """Single-use tokens that expire ``ttl_seconds`` after ``put`` (on ``clock.monotonic``)."""

    _SWEEP_EVERY = 256

    def __init__(self, clock: ports.Clock) -> None:
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}
        self._puts = 0

    async def put(self, token_hash: str, subject: str, ttl_seconds: int) -> None:
        now = self._clock.monotonic()
        self._tokens[token_hash] = (subject, now + ttl_seconds)
        self._puts += 1
        if self._puts % self._SWEEP_EVERY == 0:  # forget expired tokens nobody took
            expired = [key for key, (_, until) in self._tokens.items() if until <= now]
            for key in expired:
                del self._tokens[key]

    async def take(self, token_hash: str) -> str | None:
        entry = self._tokens.pop(token_hash, None)
        if entry is None:
            return None
        subject, until = entry
        return subject if self._clock.monotonic() < until else None

    async def forget(self, subject: str) -> int:
        doomed = [key for key, (owner, _) in self._tokens.items() if owner == subject]
        for key in doomed:
            del self._tokens[key]
        return len(doomed)


class MemoryReplayGuard:
    """Keys accepted once within a time to live (``ReplayGuard``), on ``clock.monotonic``.

    ``keys`` (key -> when it expires) is the store's, so every guard of one store shares
    it; a call never awaits between looking and remembering, so it is atomic on the event
    loop. Every ``first_use`` drops the expired ones among the ``SWEEP`` oldest keys.
    """

    SWEEP = 64

    def __init__(self, clock: ports.Clock, keys: dict[str, float] | None = None) -> None:
        self._clock = clock
        self._keys: dict[str, float] = {} if keys is None else keys

    async def first_use(self, key: str, ttl_seconds: int) -> bool:
        now = self._clock.monotonic()
        until = self._keys.get(key)
        if until is not None and now < until:
            return False
        self._keys.pop(key, None)  # re-inserted last: the oldest keys come first
        oldest = islice(self._keys.items(), self.SWEEP)
        for expired in [old for old, old_until in oldest if old_until <= now]:
            del self._keys[expired]
        self._keys[key] = now + ttl_seconds
        return True

    async def forget(self, key: str) -> None:
        self._keys.pop(key, None)


class MemoryRateLimiter:
    """A sliding-window log per key on ``clock.monotonic``; refused hits are not counted.

    ``reset_after`` is the time until the oldest hit in the window leaves it (``window``
    itself when the window is empty after this call).
    """

    def __init__(self, clock: ports.Clock) -> None:
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    async def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        return self._decide(key, limit, window_seconds, count=True)

    async def peek(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        return self._decide(key, limit, window_seconds, count=False)

    async def reset(self, key: str) -> None:
        self._hits.pop(key, None)

    def _decide(self, key: str, limit: int, window_seconds: float, *, count: bool) -> RateDecision:
        now = self._clock.monotonic()
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        horizon = now - window_seconds
        while hits and hits[0] <= horizon:
            hits.popleft()
        allowed = len(hits) < limit
        if allowed and count:
            hits.append(now)
        remaining = max(limit - len(hits), 0)
        reset_after = hits[0] + window_seconds - now if hits else window_seconds
        if not hits:
            del self._hits[key]
        return RateDecision(
            allowed=allowed, limit=limit, remaining=remaining, reset_after=max(reset_after, 0.0)
        )


def _conforms(
    sessions: MemorySessionStore, tokens: MemoryOneTimeTokens, limiter: MemoryRateLimiter
) -> tuple[ports.SessionStore, ports.OneTimeTokens, ports.RateLimiter]:
    """Never called: mypy checks here that the classes match their ports."""
    return sessions, tokens, limiter
