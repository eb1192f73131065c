"""Account flows on the in-memory adapters, real bcrypt (cost 4) and real JWTs."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import timedelta

import jwt
import pytest

from tests.core.builders import T0
from turbocat_adapters.mail import Outbox
from turbocat_adapters.memory import ManualClock, MemoryRateLimiter, MemoryStore
from turbocat_adapters.security import BcryptHasher
from turbocat_adapters.system import SystemRandom, UuidV7Generator
from turbocat_adapters.tokens import JwtTokens
from turbocat_core.domain.access import require_scope
from turbocat_core.domain.audit import AUDIT_QUERY
from turbocat_core.domain.common import ListQuery
from turbocat_core.domain.user import UserRole
from turbocat_core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)
from turbocat_core.usecases import accounts as acc
from turbocat_core.usecases import api_keys as keys
from turbocat_core.usecases import users

GOOD = "Correct-Horse-9"
SECRET = "test-secret-" + "x" * 40


class CountingHasher:
    """The real hasher, counting full checks (to show every login pays one)."""

    def __init__(self) -> None:
        self.inner = BcryptHasher(rounds=4)
        self.verified: list[str] = []

    async def hash(self, password: str) -> str:
        return await self.inner.hash(password)

    async def verify(self, password: str, password_hash: str) -> bool:
        self.verified.append(password_hash)
        return await self.inner.verify(password, password_hash)


@dataclass
class World:
    clock: ManualClock = field(default_factory=lambda: ManualClock(T0))
    store: MemoryStore = field(default_factory=MemoryStore)
    outbox: Outbox = field(default_factory=Outbox)
    hasher: CountingHasher = field(default_factory=CountingHasher)

    def __post_init__(self) -> None:
        self.ports = acc.AccountPorts(
            uow=self.store.unit_of_work,
            clock=self.clock,
            ids=UuidV7Generator(),
            random=SystemRandom(),
            hasher=self.hasher,
            tokens=JwtTokens(SECRET, self.clock),
            sessions=self.store.session_store(self.clock),
            reset_tokens=self.store.one_time_tokens(self.clock),
            limiter=MemoryRateLimiter(self.clock),
            mailer=self.outbox,
            access_ttl=900,
            refresh_ttl=7 * 86400,
            public_url="https://turbocat.example",
        )
        self.login = acc.Login(self.ports)
        self.client = acc.Client(ip="203.0.113.9", user_agent="pytest")

    async def register(self, email: str = "ada@example.com", password: str = GOOD):
        return await acc.Register(self.ports)(email, password, "Ada", self.client)

    async def audit_actions(self) -> list[str]:
        async with self.store.unit_of_work() as uow:
            page = await uow.audit_logs.list(
                ListQuery.build(AUDIT_QUERY, page_size=100, sort_order="asc")
            )
        return [entry.action for entry in page.items]


@pytest.fixture
def w() -> World:
    return World()


async def test_register_login_and_authenticate(w: World):
    user, tokens = await w.register("  Ada@Example.COM ")
    assert user.email == "ada@example.com" and user.role is UserRole.USER
    assert tokens.expires_in == 900 and tokens.token_type == "Bearer"
    actor = await acc.Authenticate(w.ports)(tokens.access_token)
    assert actor.user_id == user.id and actor.session_id is not None
    again, _ = await w.login("ADA@example.com", GOOD, w.client)
    assert again.id == user.id and again.last_login_at == T0
    with pytest.raises(Conflict, match="already exists"):
        await w.register("ada@EXAMPLE.com")
    assert await w.audit_actions() == ["auth.register", "auth.login"]


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("nobody@example.com", GOOD),
        ("ada@example.com", "Wrong-Horse-9"),
        ("ada@example.com", "Ä" * 40),
        ("not-an-email", GOOD),
    ],
)
async def test_every_failed_login_looks_the_same_and_costs_a_full_check(w: World, email, password):
    await w.register()
    w.hasher.verified.clear()
    with pytest.raises(Unauthenticated) as failed:
        await w.login(email, password, w.client)
    assert (failed.value.code, failed.value.message) == (
        "INVALID_CREDENTIALS",
        "invalid email or password",
    )
    assert len(w.hasher.verified) == 1 and w.hasher.verified[0].startswith("$2b$04$")


async def test_passwords_over_72_bytes_are_refused_at_register(w: World):
    with pytest.raises(ValidationFailed) as refused:
        await w.register(password="Aa1!" + "é" * 40)
    assert refused.value.details[0].field == "password"


async def test_failed_logins_are_throttled_per_account_and_per_address(w: World):
    await w.register()
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await w.login("ada@example.com", "Wrong-Horse-9", w.client)
    with pytest.raises(RateLimited) as limited:
        await w.login("ada@example.com", GOOD, w.client)  # even the right password waits
    assert 0 < limited.value.retry_after <= 900
    w.clock.advance(901)
    await w.login("ada@example.com", GOOD, w.client)
    elsewhere = acc.Client(ip="198.51.100.7")
    for n in range(30):
        with pytest.raises(Unauthenticated):
            await w.login(f"guess{n}@example.com", GOOD, elsewhere)
    with pytest.raises(RateLimited):
        await w.login("ada@example.com", GOOD, elsewhere)
    await w.login("ada@example.com", GOOD, w.client)  # another address is not held up


async def test_refresh_rotates_and_a_reused_token_revokes_the_session(w: World):
    _, first = await w.register()
    second = await acc.Refresh(w.ports)(first.refresh_token, w.client)
    assert second.refresh_token != first.refresh_token
    await acc.Authenticate(w.ports)(second.access_token)
    with pytest.raises(Unauthenticated, match="already used") as reused:
        await acc.Refresh(w.ports)(first.refresh_token, w.client)
    assert reused.value.code == "INVALID_TOKEN"
    for token in (second.refresh_token,):  # the thief and the owner are both out
        with pytest.raises(Unauthenticated):
            await acc.Refresh(w.ports)(token, w.client)
    with pytest.raises(Unauthenticated):
        await acc.Authenticate(w.ports)(second.access_token)
    assert "auth.refresh_reused" in await w.audit_actions()


async def test_tokens_expire_and_their_types_and_signatures_are_checked(w: World):
    _, tokens = await w.register()
    authenticate = acc.Authenticate(w.ports)
    with pytest.raises(Unauthenticated) as wrong_type:
        await authenticate(tokens.refresh_token)
    assert wrong_type.value.code == "INVALID_TOKEN"
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    forged = jwt.encode(claims, "another-secret-" + "y" * 40, algorithm="HS256")
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(
        b"="
    )
    unsigned = header.decode() + "." + tokens.access_token.split(".")[1] + "."
    for bad in (forged, unsigned, tokens.access_token[:-2] + "xx", "not.a.jwt", ""):
        with pytest.raises(Unauthenticated) as refused:
            await authenticate(bad)
        assert refused.value.code == "INVALID_TOKEN"
    w.clock.advance(901)
    with pytest.raises(Unauthenticated) as expired:
        await authenticate(tokens.access_token)
    assert expired.value.code == "TOKEN_EXPIRED"
    w.clock.advance(7 * 86400)
    with pytest.raises(Unauthenticated) as stale:
        await acc.Refresh(w.ports)(tokens.refresh_token, w.client)
    assert stale.value.code == "TOKEN_EXPIRED"


async def test_logout_ends_the_session(w: World):
    _, tokens = await w.register()
    actor = await acc.Authenticate(w.ports)(tokens.access_token)
    await acc.Logout(w.ports)(actor, w.client)
    with pytest.raises(Unauthenticated):
        await acc.Authenticate(w.ports)(tokens.access_token)
    with pytest.raises(Unauthenticated):
        await acc.Refresh(w.ports)(tokens.refresh_token, w.client)
    assert (await w.audit_actions())[-1] == "auth.logout"


async def test_password_reset_is_mailed_single_use_and_ends_every_session(w: World):
    _, tokens = await w.register()
    _, other = await w.login("ada@example.com", GOOD, w.client)
    forgot = acc.ForgotPassword(w.ports)
    await forgot("nobody@example.com", w.client)
    assert w.outbox.messages == []
    await forgot("ada@example.com", w.client)
    (mail,) = w.outbox.messages
    assert mail.to == "ada@example.com"
    token = mail.body.split("token=")[1].split()[0]
    assert "https://turbocat.example/reset-password?token=" in mail.body
    reset = acc.ResetPassword(w.ports)
    with pytest.raises(ValidationFailed):
        await reset(token, "weak", w.client)  # the token survives a refused password
    await reset(token, "New-Horse-10!", w.client)
    for pair in (tokens, other):
        with pytest.raises(Unauthenticated):
            await acc.Authenticate(w.ports)(pair.access_token)
    with pytest.raises(Unauthenticated) as reused:
        await reset(token, "Newer-Horse-11!", w.client)
    assert reused.value.code == "INVALID_TOKEN"
    await w.login("ada@example.com", "New-Horse-10!", w.client)
    actions = await w.audit_actions()
    assert "auth.password_reset_requested" in actions and "auth.password_reset" in actions


async def test_a_reset_token_expires_after_an_hour_and_mail_is_rate_limited(w: World):
    await w.register()
    forgot = acc.ForgotPassword(w.ports)
    for _ in range(5):
        await forgot("ada@example.com", w.client)
    assert len(w.outbox.messages) == 3  # then silently no more for the hour
    token = w.outbox.messages[0].body.split("token=")[1].split()[0]
    w.clock.advance(3601)
    with pytest.raises(Unauthenticated):
        await acc.ResetPassword(w.ports)(token, "New-Horse-10!", w.client)


async def test_api_keys(w: World):
    user, tokens = await w.register()
    owner = await acc.Authenticate(w.ports)(tokens.access_token)
    key, raw = await keys.CreateApiKey(w.ports)(
        owner, name="ci", scopes=["agents:read"], rate_limit_per_minute=2, client=w.client
    )
    assert raw.startswith("tck_") and key.key_prefix == raw[:12] and raw not in repr(key)
    authenticate = keys.AuthenticateApiKey(w.ports)
    actor, decision = await authenticate(raw)
    assert actor.user_id == user.id and actor.api_key_id == key.id
    assert (decision.limit, decision.remaining) == (2, 1)
    require_scope(actor, "agents", "read")
    with pytest.raises(PermissionDenied):
        require_scope(actor, "agents", "write")
    with pytest.raises(PermissionDenied):
        await keys.CreateApiKey(w.ports)(actor, name="nested")  # keys cannot make keys
    await authenticate(raw)
    with pytest.raises(RateLimited) as limited:
        await authenticate(raw)
    assert limited.value.limit == 2
    w.clock.advance(61)
    await authenticate(raw)
    async with w.store.unit_of_work() as uow:
        stored = await uow.api_keys.get(key.id)
    assert stored is not None and stored.usage_count == 3 and stored.last_used_at == w.clock.now()
    page = await keys.ListApiKeys(w.ports)(owner)
    assert [k.id for k in page.items] == [key.id]
    _, eve_tokens = await w.register("eve@example.com")
    intruder = await acc.Authenticate(w.ports)(eve_tokens.access_token)
    with pytest.raises(NotFound):
        await keys.RevokeApiKey(w.ports)(intruder, key.id)
    await keys.RevokeApiKey(w.ports)(owner, key.id)
    with pytest.raises(Unauthenticated):
        await authenticate(raw)
    for bad in ("tck_" + "a" * 43, "nope", ""):
        with pytest.raises(Unauthenticated):
            await authenticate(bad)
    actions = await w.audit_actions()
    assert "api_key.created" in actions and "api_key.revoked" in actions


async def test_an_expired_key_stops_working(w: World):
    _, tokens = await w.register()
    owner = await acc.Authenticate(w.ports)(tokens.access_token)
    with pytest.raises(ValidationFailed):
        await keys.CreateApiKey(w.ports)(owner, name="old", expires_at=T0 - timedelta(seconds=1))
    _, raw = await keys.CreateApiKey(w.ports)(
        owner, name="soon", expires_at=T0 + timedelta(hours=1)
    )
    await keys.AuthenticateApiKey(w.ports)(raw)
    w.clock.advance(3601)
    with pytest.raises(Unauthenticated):
        await keys.AuthenticateApiKey(w.ports)(raw)


async def test_me_and_other_users(w: World):
    user, tokens = await w.register()
    me = await acc.Authenticate(w.ports)(tokens.access_token)
    update = users.UpdateMe(w.ports)
    changed = await update(
        me, {"full_name": " Ada L. ", "preferences": {"theme": "dark"}}, w.client
    )
    assert (changed.full_name, changed.preferences) == ("Ada L.", {"theme": "dark"})
    with pytest.raises(ValidationFailed):
        await update(me, {"avatar_url": "javascript:alert(1)"}, w.client)
    with pytest.raises(Unauthenticated):
        await update(me, {"password": "New-Horse-10!", "current_password": "wrong"}, w.client)
    _, elsewhere = await w.login("ada@example.com", GOOD, w.client)
    await update(me, {"password": "New-Horse-10!", "current_password": GOOD}, w.client)
    await acc.Authenticate(w.ports)(tokens.access_token)  # the caller stays logged in
    with pytest.raises(Unauthenticated):  # every other session ends
        await acc.Authenticate(w.ports)(elsewhere.access_token)
    with pytest.raises(PermissionDenied):
        await users.GetUser(w.ports)(me, user.id)
    admin = await acc.CreateUser(w.ports)("root@example.com", GOOD, role=UserRole.ADMIN)
    assert admin is not None
    assert await acc.CreateUser(w.ports)("root@example.com", GOOD, exist_ok=True) is None
    _, admin_tokens = await w.login("root@example.com", GOOD, w.client)
    as_admin = await acc.Authenticate(w.ports)(admin_tokens.access_token)
    assert (await users.GetUser(w.ports)(as_admin, user.id)).email == "ada@example.com"


async def test_guessing_the_current_password_is_throttled_like_logins(w: World):
    _, tokens = await w.register()
    me = await acc.Authenticate(w.ports)(tokens.access_token)
    update = users.UpdateMe(w.ports)
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await update(me, {"password": "New-Horse-10!", "current_password": "guess"}, w.client)
    with pytest.raises(RateLimited):
        await update(me, {"password": "New-Horse-10!", "current_password": GOOD}, w.client)
    with pytest.raises(RateLimited):  # the same budget as logging in
        await w.login("ada@example.com", GOOD, w.client)
