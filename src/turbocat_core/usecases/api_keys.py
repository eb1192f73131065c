"""API keys: create one (shown once), list them, revoke one, and authenticate with one."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from turbocat_core.domain.access import Actor, require_owner
from turbocat_core.domain.api_key import (
    API_KEY_QUERY,
    DEFAULT_RATE_LIMIT,
    ApiKey,
    check_rate_limit,
    check_scopes,
    display_prefix,
    hash_key,
    looks_like_key,
    make_key,
)
from turbocat_core.domain.audit import AuditAction
from turbocat_core.domain.common import ApiKeyId, ListQuery, Page, check_name
from turbocat_core.errors import (
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)
from turbocat_core.ports.security import RateDecision
from turbocat_core.usecases.accounts import AccountPorts, Client, record

KEY_WINDOW_SECONDS = 60


def _sessions_only(actor: Actor) -> None:
    if actor.api_key_id is not None:
        raise PermissionDenied("API keys are managed with a login session, not with a key")


@dataclass(frozen=True, slots=True)
class CreateApiKey:
    ports: AccountPorts

    async def __call__(
        self,
        actor: Actor,
        *,
        name: str,
        scopes: list[str] | None = None,
        rate_limit_per_minute: int | None = None,
        expires_at: datetime | None = None,
        client: Client | None = None,
    ) -> tuple[ApiKey, str]:
        """The stored key and the full key, which is never available again."""
        _sessions_only(actor)
        ports = self.ports
        now = ports.clock.now()
        if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
            raise ValidationFailed.field("expiresAt", "must be a future time with an offset")
        raw = make_key(ports.random.token(32))
        key = ApiKey(
            id=ApiKeyId(ports.ids.new_id()),
            created_at=now,
            updated_at=now,
            user_id=actor.user_id,
            name=check_name(name),
            key_prefix=display_prefix(raw),
            key_hash=hash_key(raw),
            scopes=check_scopes(scopes or []),
            rate_limit_per_minute=check_rate_limit(rate_limit_per_minute or DEFAULT_RATE_LIMIT),
            expires_at=expires_at,
        )
        async with ports.uow() as uow:
            await uow.api_keys.add(key)
            await record(
                uow,
                ports,
                AuditAction.API_KEY_CREATED,
                user_id=actor.user_id,
                resource_type="api_key",
                resource_id=key.id,
                client=client,
                metadata={"name": key.name, "scopes": list(key.scopes)},
            )
            await uow.commit()
        return key, raw


@dataclass(frozen=True, slots=True)
class ListApiKeys:
    ports: AccountPorts

    async def __call__(self, actor: Actor, query: ListQuery | None = None) -> Page[ApiKey]:
        """The caller's live keys (newest first by default); hashes never leave the core."""
        _sessions_only(actor)
        mine = replace(
            query or ListQuery.build(API_KEY_QUERY), owner_id=actor.user_id, include_public=False
        )
        async with self.ports.uow() as uow:
            return await uow.api_keys.list(mine)


@dataclass(frozen=True, slots=True)
class RevokeApiKey:
    ports: AccountPorts

    async def __call__(self, actor: Actor, key_id: ApiKeyId, client: Client | None = None) -> None:
        """Revoke (soft-delete) one of the caller's keys; another user's is ``NotFound``."""
        _sessions_only(actor)
        ports = self.ports
        now = ports.clock.now()
        async with ports.uow() as uow:
            key = await uow.api_keys.get(key_id)
            if key is None:
                raise NotFound("API key", key_id)
            require_owner(actor, "API key", key.id, key.user_id)
            await uow.api_keys.update(replace(key, is_active=False, deleted_at=now, updated_at=now))
            await record(
                uow,
                ports,
                AuditAction.API_KEY_REVOKED,
                user_id=actor.user_id,
                resource_type="api_key",
                resource_id=key.id,
                client=client,
            )
            await uow.commit()


@dataclass(frozen=True, slots=True)
class AuthenticateApiKey:
    """Who an ``X-API-Key`` belongs to, within its per-minute limit."""

    ports: AccountPorts

    async def __call__(self, raw: str) -> tuple[Actor, RateDecision]:
        """``Unauthenticated`` for an unknown, revoked or expired key (one message for all),
        ``RateLimited`` over the key's limit; else the actor and the limit's state."""
        ports = self.ports
        invalid = Unauthenticated(
            "the API key is invalid, revoked or expired", code="INVALID_TOKEN"
        )
        if not looks_like_key(raw):
            raise invalid
        now = ports.clock.now()
        async with ports.uow() as uow:
            key = await uow.api_keys.get_by_hash(hash_key(raw))
            user = await uow.users.get(key.user_id) if key is not None else None
        if key is None or user is None or not key.usable_at(now) or not user.is_active:
            raise invalid
        decision = await ports.limiter.hit(
            f"apikey:{key.id}", key.rate_limit_per_minute, KEY_WINDOW_SECONDS
        )
        if not decision.allowed:
            raise RateLimited(
                decision.reset_after, "this API key's rate limit is exceeded", limit=decision.limit
            )
        async with ports.uow() as uow:
            await uow.api_keys.record_use(key.id, now)
            await uow.commit()
        actor = Actor(
            user_id=user.id, role=user.role, scopes=frozenset(key.scopes), api_key_id=key.id
        )
        return actor, decision
