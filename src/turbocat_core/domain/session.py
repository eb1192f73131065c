"""Login sessions: one per login, holding the hash of the current refresh token."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from turbocat_core.domain.common import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A refresh-token family: rotating replaces ``refresh_hash``; presenting an old one revokes."""

    id: UUID
    user_id: UserId
    refresh_hash: str = field(repr=False)
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    revoked_at: datetime | None = None

    def active_at(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at
