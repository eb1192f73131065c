"""Accounts: register, log in, refresh, log out, reset a password, and who a token is.

Tokens: an access token (15 min) and a refresh token (7 days) per login session, both
signed JWTs carrying the session id. The session keeps the hash of its current refresh
token; refreshing rotates it, and presenting an older one (a stolen copy, or a replay)
revokes the whole session. Failed logins are throttled per account and per address;
logins with an unknown email cost a password check too, so both answer alike.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Final
from uuid import UUID

from turbocat_core.domain.access import Actor
from turbocat_core.domain.audit import AuditAction
from turbocat_core.domain.common import JsonObject, UserId
from turbocat_core.domain.session import Session
from turbocat_core.domain.user import (
    User,
    UserRole,
    canonical_email,
    check_password_policy,
    normalize_email,
    password_fits_hasher,
)
from turbocat_core.errors import Conflict, RateLimited, Unauthenticated, ValidationFailed
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.mail import Email, Mailer
from turbocat_core.ports.randomness import IdGenerator, RandomSource
from turbocat_core.ports.security import (
    OneTimeTokens,
    PasswordHasher,
    RateLimiter,
    SessionStore,
    TokenIssuer,
)
from turbocat_core.ports.storage import UnitOfWork, UnitOfWorkFactory
from turbocat_core.usecases.audit import audit

ACCESS: Final = "access"
REFRESH: Final = "refresh"
RESET_TTL: Final = 3600
FAILED_LOGINS_PER_ACCOUNT: Final = (5, 15 * 60)  # failures, seconds
FAILED_LOGINS_PER_ADDRESS: Final = (30, 15 * 60)
RESET_MAILS_PER_ACCOUNT: Final = (3, 3600)
BAD_CREDENTIALS: Final = "invalid email or password"


def digest(secret: str) -> str:
    """SHA-256 of a random token: what is stored instead of the token."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Client:
    """Where a request came from (for the audit log and throttling); both may be unknown."""

    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountPorts:
    """Everything the account use cases need, handed over once by the composition root."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    random: RandomSource
    hasher: PasswordHasher
    tokens: TokenIssuer
    sessions: SessionStore
    reset_tokens: OneTimeTokens
    limiter: RateLimiter
    mailer: Mailer
    access_ttl: int = 15 * 60
    refresh_ttl: int = 7 * 24 * 3600
    public_url: str = "http://127.0.0.1:3001"


async def record(
    uow: UnitOfWork,
    ports: AccountPorts,
    action: str,
    *,
    user_id: UUID | None,
    resource_type: str,
    resource_id: object = None,
    client: Client | None = None,
    metadata: JsonObject | None = None,
) -> None:
    """Add an account event to the audit log (never with secrets in it)."""
    await audit(
        uow,
        ports.clock,
        ports.ids,
        action,
        user_id=user_id,
        resource_type=resource_type,
        resource_id=resource_id,
        metadata=metadata,
        ip_address=client.ip if client else None,
        user_agent=client.user_agent if client else None,
    )


async def start_session(ports: AccountPorts, user: User, client: Client) -> Tokens:
    """A new login session and its first pair of tokens."""
    now = ports.clock.now()
    session_id = ports.ids.new_id()
    refresh = _token(ports, user.id, session_id, REFRESH, ports.refresh_ttl)
    await ports.sessions.put(
        Session(
            id=session_id,
            user_id=user.id,
            refresh_hash=digest(refresh),
            created_at=now,
            expires_at=now + timedelta(seconds=ports.refresh_ttl),
            last_used_at=now,
            ip_address=client.ip,
            user_agent=client.user_agent[:512] if client.user_agent else None,
        )
    )
    access = _token(ports, user.id, session_id, ACCESS, ports.access_ttl)
    return Tokens(access_token=access, refresh_token=refresh, expires_in=ports.access_ttl)


def _token(ports: AccountPorts, user_id: UUID, session_id: UUID, kind: str, ttl: int) -> str:
    claims = {
        "sub": str(user_id),
        "sid": str(session_id),
        "type": kind,
        "jti": ports.random.token(12),
    }
    return ports.tokens.issue(claims, ttl)


@dataclass(frozen=True, slots=True)
class Register:
    ports: AccountPorts

    async def __call__(
        self, email: str, password: str, full_name: str | None, client: Client
    ) -> tuple[User, Tokens]:
        """A new USER and a session; ``ValidationFailed`` (bad email or password),
        ``Conflict`` (the email is taken)."""
        ports = self.ports
        address = normalize_email(email)
        check_password_policy(password)
        name = full_name.strip() if full_name else None
        if name is not None and len(name) > 255:
            raise ValidationFailed.field("fullName", "must be at most 255 characters")
        password_hash = await ports.hasher.hash(password)
        now = ports.clock.now()
        user = User(
            id=UserId(ports.ids.new_id()),
            created_at=now,
            updated_at=now,
            email=address,
            password_hash=password_hash,
            full_name=name or None,
            last_login_at=now,
        )
        async with ports.uow() as uow:
            if await uow.users.get_by_email(address) is not None:
                raise Conflict("a user with this email already exists")
            await uow.users.add(user)
            await record(
                uow,
                ports,
                AuditAction.REGISTER,
                user_id=user.id,
                resource_type="user",
                resource_id=user.id,
                client=client,
            )
            await uow.commit()
        return user, await start_session(ports, user, client)


class _DummyHash:
    """A hash of a random password at the real cost, so unknown emails take as long."""

    def __init__(self) -> None:
        self.value: str | None = None

    async def get(self, ports: AccountPorts) -> str:
        if self.value is None:
            self.value = await ports.hasher.hash(ports.random.token(16) + "Aa1!")
        return self.value


@dataclass(frozen=True, slots=True)
class Login:
    """Make one per process (the composition root keeps it): it caches the dummy hash."""

    ports: AccountPorts
    dummy: _DummyHash = field(default_factory=_DummyHash)

    async def __call__(self, email: str, password: str, client: Client) -> tuple[User, Tokens]:
        """A session for the right password; else ``Unauthenticated`` (INVALID_CREDENTIALS),
        identical for an unknown email, a wrong or over-long password and a disabled account;
        ``RateLimited`` after too many failures for the account or the address."""
        ports = self.ports
        address = canonical_email(email)
        account_key = f"login:account:{digest(address)}"
        address_key = f"login:ip:{client.ip}" if client.ip else None
        await self._throttle(account_key, address_key)
        async with ports.uow() as uow:
            user = await uow.users.get_by_email(address) if "@" in address else None
        usable = user is not None and user.is_active and password_fits_hasher(password)
        # Every failure pays a full bcrypt check: against the dummy hash when there is no
        # usable account, with a short stand-in when the password is over bcrypt's 72
        # bytes (the hasher would refuse it at once, and the timing would tell).
        checked = user.password_hash if usable and user is not None else await self.dummy.get(ports)
        matches = await ports.hasher.verify(password if usable else "x" + password[:8], checked)
        if not (usable and matches) or user is None:
            await self._failed(account_key, address_key, user, client)
            raise Unauthenticated(BAD_CREDENTIALS, code="INVALID_CREDENTIALS")
        await ports.limiter.reset(account_key)
        now = ports.clock.now()
        async with ports.uow() as uow:
            user = replace(user, last_login_at=now, updated_at=now)
            await uow.users.update(user)
            await record(
                uow,
                ports,
                AuditAction.LOGIN,
                user_id=user.id,
                resource_type="user",
                resource_id=user.id,
                client=client,
            )
            await uow.commit()
        return user, await start_session(ports, user, client)

    async def _throttle(self, account_key: str, address_key: str | None) -> None:
        limit, window = FAILED_LOGINS_PER_ACCOUNT
        checks = [(account_key, limit, window)]
        if address_key is not None:
            checks.append((address_key, *FAILED_LOGINS_PER_ADDRESS))
        for key, count, seconds in checks:
            decision = await self.ports.limiter.peek(key, count, seconds)
            if not decision.allowed:
                raise RateLimited(decision.reset_after, "too many failed logins; try again later")

    async def _failed(
        self, account_key: str, address_key: str | None, user: User | None, client: Client
    ) -> None:
        ports = self.ports
        await ports.limiter.hit(account_key, *FAILED_LOGINS_PER_ACCOUNT)
        if address_key is not None:
            await ports.limiter.hit(address_key, *FAILED_LOGINS_PER_ADDRESS)
        async with ports.uow() as uow:
            await record(
                uow,
                ports,
                AuditAction.LOGIN_FAILED,
                user_id=user.id if user else None,
                resource_type="user",
                resource_id=user.id if user else None,
                client=client,
            )
            await uow.commit()


@dataclass(frozen=True, slots=True)
class Refresh:
    ports: AccountPorts

    async def __call__(self, refresh_token: str, client: Client) -> Tokens:
        """A new pair for a current refresh token (which is then spent). A spent one revokes
        its session: ``Unauthenticated`` (INVALID_TOKEN); an expired one: TOKEN_EXPIRED."""
        ports = self.ports
        claims = ports.tokens.verify(refresh_token, REFRESH)
        session = await _live_session(ports, claims)
        if digest(refresh_token) != session.refresh_hash:
            await ports.sessions.revoke(session.id)
            async with ports.uow() as uow:
                await record(
                    uow,
                    ports,
                    "auth.refresh_reused",
                    user_id=session.user_id,
                    resource_type="session",
                    resource_id=session.id,
                    client=client,
                )
                await uow.commit()
            raise Unauthenticated(
                "this refresh token was already used; the session is revoked", code="INVALID_TOKEN"
            )
        async with ports.uow() as uow:
            user = await uow.users.get(session.user_id)
        if user is None or not user.is_active:
            await ports.sessions.revoke(session.id)
            raise Unauthenticated("the account is disabled", code="INVALID_TOKEN")
        now = ports.clock.now()
        fresh = _token(ports, user.id, session.id, REFRESH, ports.refresh_ttl)
        rotated = await ports.sessions.rotate(
            session.id,
            session.refresh_hash,
            digest(fresh),
            now + timedelta(seconds=ports.refresh_ttl),
            now,
        )
        if not rotated:  # another refresh with this token won, or the session just ended
            raise Unauthenticated("the session has ended; log in again", code="INVALID_TOKEN")
        access = _token(ports, user.id, session.id, ACCESS, ports.access_ttl)
        return Tokens(access_token=access, refresh_token=fresh, expires_in=ports.access_ttl)


async def _live_session(ports: AccountPorts, claims: dict[str, Any]) -> Session:
    try:
        session_id, user_id = UUID(str(claims["sid"])), UUID(str(claims["sub"]))
    except (KeyError, ValueError):
        raise Unauthenticated("the token is invalid", code="INVALID_TOKEN") from None
    session = await ports.sessions.get(session_id)
    if session is None or session.user_id != user_id or not session.active_at(ports.clock.now()):
        raise Unauthenticated("the session has ended; log in again", code="INVALID_TOKEN")
    return session


@dataclass(frozen=True, slots=True)
class Authenticate:
    """Who a bearer access token belongs to (its session must still be live)."""

    ports: AccountPorts

    async def __call__(self, access_token: str) -> Actor:
        ports = self.ports
        claims = ports.tokens.verify(access_token, ACCESS)
        session = await _live_session(ports, claims)
        async with ports.uow() as uow:
            user = await uow.users.get(session.user_id)
        if user is None or not user.is_active:
            raise Unauthenticated("the account is disabled", code="INVALID_TOKEN")
        return Actor(user_id=user.id, role=user.role, session_id=session.id)


@dataclass(frozen=True, slots=True)
class Logout:
    ports: AccountPorts

    async def __call__(self, actor: Actor, client: Client) -> None:
        """End the caller's session (its refresh token stops working at once)."""
        ports = self.ports
        if actor.session_id is None:
            raise Unauthenticated("log out with the access token of a session")
        await ports.sessions.revoke(actor.session_id)
        async with ports.uow() as uow:
            await record(
                uow,
                ports,
                AuditAction.LOGOUT,
                user_id=actor.user_id,
                resource_type="session",
                resource_id=actor.session_id,
                client=client,
            )
            await uow.commit()


@dataclass(frozen=True, slots=True)
class ForgotPassword:
    ports: AccountPorts

    async def __call__(self, email: str, client: Client) -> None:
        """Mail a one-hour, single-use reset link if the account exists; always returns."""
        ports = self.ports
        address = canonical_email(email)
        async with ports.uow() as uow:
            user = await uow.users.get_by_email(address) if "@" in address else None
        if user is None or not user.is_active:
            return
        decision = await ports.limiter.hit(f"reset:account:{user.id}", *RESET_MAILS_PER_ACCOUNT)
        if not decision.allowed:
            return  # enough mail for this account for now; say nothing different
        token = ports.random.token(32)
        await ports.reset_tokens.put(digest(token), str(user.id), RESET_TTL)
        async with ports.uow() as uow:
            await record(
                uow,
                ports,
                AuditAction.PASSWORD_RESET_REQUESTED,
                user_id=user.id,
                resource_type="user",
                resource_id=user.id,
                client=client,
            )
            await uow.commit()
        link = f"{ports.public_url}/reset-password?token={token}"
        await ports.mailer.send(
            Email(
                to=user.email,
                subject="Reset your Turbocat password",
                body=(
                    "Someone asked to reset the password of your Turbocat account.\n\n"
                    f"To choose a new one, open this link within an hour:\n{link}\n\n"
                    "Where no page answers at that address (a server without a front end), "
                    "send the token to its API instead, within the hour: "
                    "POST /api/v1/auth/reset-password with "
                    '{"token": "<the token above>", '
                    '"password": "<the new one>"}.\n\n'
                    "If it was not you, ignore this message: your password stays as it is.\n"
                ),
            )
        )


@dataclass(frozen=True, slots=True)
class ResetPassword:
    ports: AccountPorts

    async def __call__(self, token: str, password: str, client: Client) -> None:
        """Set a new password with a reset token (once); every session of the user ends, and
        every other reset link of the account stops working.
        ``ValidationFailed`` for a weak password (the token stays usable), ``Unauthenticated``
        (INVALID_TOKEN) for an unknown, used or expired token."""
        ports = self.ports
        check_password_policy(password)
        subject = await ports.reset_tokens.take(digest(token))
        if subject is None:
            raise Unauthenticated("the reset token is invalid or has expired", code="INVALID_TOKEN")
        password_hash = await ports.hasher.hash(password)
        now = ports.clock.now()
        async with ports.uow() as uow:
            user = await uow.users.get(UserId(UUID(subject)))
            if user is None:
                raise Unauthenticated(
                    "the reset token is invalid or has expired", code="INVALID_TOKEN"
                )
            await uow.users.update(replace(user, password_hash=password_hash, updated_at=now))
            await record(
                uow,
                ports,
                AuditAction.PASSWORD_RESET,
                user_id=user.id,
                resource_type="user",
                resource_id=user.id,
                client=client,
            )
            await uow.commit()
        await ports.sessions.revoke_all(user.id)
        await ports.reset_tokens.forget(str(user.id))  # the account's other reset links too


@dataclass(frozen=True, slots=True)
class CreateUser:
    """An account made by an operator (CLI, bootstrap): no session, any role."""

    ports: AccountPorts

    async def __call__(
        self,
        email: str,
        password: str,
        *,
        role: UserRole = UserRole.USER,
        full_name: str | None = None,
        exist_ok: bool = False,
    ) -> User | None:
        """The new user; ``Conflict`` if the email is taken (``None`` with ``exist_ok``)."""
        ports = self.ports
        address = normalize_email(email)
        check_password_policy(password)
        async with ports.uow() as uow:
            if await uow.users.get_by_email(address) is not None:
                if exist_ok:
                    return None
                raise Conflict("a user with this email already exists")
        now = ports.clock.now()
        user = User(
            id=UserId(ports.ids.new_id()),
            created_at=now,
            updated_at=now,
            email=address,
            password_hash=await ports.hasher.hash(password),
            full_name=full_name,
            role=role,
            email_verified=True,
        )
        async with ports.uow() as uow:
            await uow.users.add(user)
            await record(
                uow,
                ports,
                AuditAction.REGISTER,
                user_id=user.id,
                resource_type="user",
                resource_id=user.id,
                metadata={"by": "operator", "role": role.value},
            )
            await uow.commit()
        return user
