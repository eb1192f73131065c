"""``/users`` and ``/api-keys`` through HTTP: the caller's account, ADMIN lookups, API keys
(shown once, scoped, rate limited, revocable) (SPEC §3)."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tests.http.accounts_helpers import (
    OTHER_PASSWORD,
    PASSWORD,
    World,
    assert_no_secrets,
    bearer,
    open_world,
    without_request_id,
)
from tests.http.conftest import API, assert_error
from turbocat_core.domain.user import UserRole

ME = f"{API}/users/me"
KEYS = f"{API}/api-keys"
ADMIN_PASSWORD = "Admin-password-1"


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with open_world() as world:
        yield world


async def _user(world: World, email: str = "ada@example.com") -> tuple[str, str]:
    """(user id, access token) of a newly registered account."""
    data = await world.register(email)
    return data["user"]["id"], data["tokens"]["accessToken"]


async def _admin_token(world: World) -> str:
    await world.container.create_user()("root@example.com", ADMIN_PASSWORD, role=UserRole.ADMIN)
    return (await world.session("root@example.com", ADMIN_PASSWORD))["accessToken"]


def _iso(world: World, seconds: float) -> str:
    return (world.clock.now() + timedelta(seconds=seconds)).isoformat()


# -- GET /users/me ---------------------------------------------------------------------


async def test_me_with_a_bearer_token_or_an_api_key(world):
    user_id, token = await _user(world)
    by_token = await world.me(token)
    assert by_token.status_code == 200, by_token.text
    assert by_token.json()["success"] is True
    me = by_token.json()["data"]
    assert me["id"] == user_id and me["email"] == "ada@example.com"
    assert_no_secrets(by_token, PASSWORD)
    key = (await world.new_key(token))["key"]
    by_key = await world.me(key=key)
    assert by_key.status_code == 200, by_key.text
    assert by_key.json()["data"]["id"] == user_id
    assert_no_secrets(by_key, PASSWORD, key)


async def test_me_needs_credentials(world):
    response = await world.client.get(ME)
    assert_error(response, 401, "UNAUTHORIZED")
    assert response.headers["www-authenticate"].startswith("Bearer")


# -- PATCH /users/me ---------------------------------------------------------------------


async def test_patch_me_changes_only_what_is_sent(world):
    _, token = await _user(world)
    response = await world.client.patch(
        ME,
        json={
            "fullName": "  Ada Lovelace ",
            "preferences": {"theme": "dark", "nested": {"a": [1, 2]}},
            "avatarUrl": "https://cdn.example.com/ada.png",
        },
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    me = response.json()["data"]
    assert me["fullName"] == "Ada Lovelace"
    assert me["preferences"] == {"theme": "dark", "nested": {"a": [1, 2]}}
    assert me["avatarUrl"] == "https://cdn.example.com/ada.png"
    assert_no_secrets(response)
    # a partial update keeps the rest; null clears
    response = await world.client.patch(ME, json={"avatarUrl": None}, headers=bearer(token))
    assert response.status_code == 200, response.text
    me = response.json()["data"]
    assert me.get("avatarUrl") is None
    assert me["fullName"] == "Ada Lovelace"
    assert me["preferences"] == {"theme": "dark", "nested": {"a": [1, 2]}}
    # and GET agrees
    assert (await world.me(token)).json()["data"] == me
    # an empty body changes nothing
    response = await world.client.patch(ME, json={}, headers=bearer(token))
    assert response.status_code == 200 and response.json()["data"] == me


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.com/a.png",
        "not a url",
        "https://",
        "//example.com/a.png",
        "https://example.com/" + "a" * 2048,
        "",
    ],
)
async def test_a_bad_avatar_url_is_400_naming_avatar_url(world, url):
    _, token = await _user(world)
    response = await world.client.patch(ME, json={"avatarUrl": url}, headers=bearer(token))
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["avatarUrl"]
    assert (await world.me(token)).json()["data"].get("avatarUrl") is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"preferences": ["not", "an", "object"]}, "preferences"),
        ({"preferences": {"blob": "x" * 17_000}}, "preferences"),
        ({"fullName": "x" * 256}, "fullName"),
        ({"fullName": 5}, "fullName"),
        ({"email": "new@example.com"}, "email"),
        ({"role": "ADMIN"}, "role"),
        ({"isActive": False}, "isActive"),
        ({"passwordHash": "$2b$04$abc"}, "passwordHash"),
    ],
)
async def test_patch_me_validates_and_refuses_unknown_fields(world, body, field):
    _, token = await _user(world)
    response = await world.client.patch(ME, json=body, headers=bearer(token))
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == [field]
    me = (await world.me(token)).json()["data"]
    assert me["role"] == "USER" and me["email"] == "ada@example.com"


@pytest.mark.parametrize(
    "body",
    [
        {"password": OTHER_PASSWORD},
        {"password": OTHER_PASSWORD, "currentPassword": "Wrong-password-1"},
        {"password": OTHER_PASSWORD, "currentPassword": PASSWORD + "x"},
    ],
)
async def test_a_password_change_needs_the_current_password(world, body):
    _, token = await _user(world)
    other = await world.session()
    response = await world.client.patch(ME, json=body, headers=bearer(token))
    assert_error(response, 401, "INVALID_CREDENTIALS")
    # nothing changed, nobody was logged out
    assert (await world.me(token)).status_code == 200
    assert (await world.me(other["accessToken"])).status_code == 200
    assert (await world.login(password=PASSWORD)).status_code == 200
    assert_error(await world.login(password=OTHER_PASSWORD), 401, "INVALID_CREDENTIALS")


async def test_a_weak_new_password_is_400_and_changes_nothing(world):
    _, token = await _user(world)
    response = await world.client.patch(
        ME, json={"password": "weak", "currentPassword": PASSWORD}, headers=bearer(token)
    )
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert {d["field"] for d in error["details"]} == {"password"}
    assert (await world.me(token)).status_code == 200
    assert (await world.login(password=PASSWORD)).status_code == 200


async def test_a_password_change_ends_the_other_sessions(world):
    data = await world.register()
    token = data["tokens"]["accessToken"]
    other = await world.session()
    response = await world.client.patch(
        ME,
        json={"password": OTHER_PASSWORD, "currentPassword": PASSWORD, "fullName": "Ada"},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["fullName"] == "Ada"
    assert_no_secrets(response, OTHER_PASSWORD, PASSWORD)
    assert_error(await world.me(other["accessToken"]), 401, "INVALID_TOKEN")
    assert_error(await world.refresh(other["refreshToken"]), 401, "INVALID_TOKEN")
    assert_error(await world.login(password=PASSWORD), 401, "INVALID_CREDENTIALS")
    assert (await world.login(password=OTHER_PASSWORD)).status_code == 200


async def test_a_password_change_keeps_the_callers_own_session(world):
    data = await world.register()
    token = data["tokens"]["accessToken"]
    response = await world.client.patch(
        ME, json={"password": OTHER_PASSWORD, "currentPassword": PASSWORD}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    assert (await world.me(token)).status_code == 200


async def test_patch_me_with_an_api_key_is_403(world):
    _, token = await _user(world)
    key = (await world.new_key(token))["key"]
    response = await world.client.patch(ME, json={"fullName": "Key"}, headers={"X-API-Key": key})
    assert_error(response, 403, "FORBIDDEN")
    response = await world.client.patch(
        ME,
        json={"password": OTHER_PASSWORD, "currentPassword": PASSWORD},
        headers={"X-API-Key": key},
    )
    assert_error(response, 403, "FORBIDDEN")
    assert (await world.me(token)).json()["data"].get("fullName") is None
    assert (await world.login(password=PASSWORD)).status_code == 200


# -- GET /users/{id} ---------------------------------------------------------------------


async def test_users_by_id_is_for_admins(world):
    ada_id, ada = await _user(world)
    bob_id, _ = await _user(world, "bob@example.com")
    for target in (bob_id, ada_id, str(uuid.uuid4())):  # others, oneself, nobody: all 403
        response = await world.client.get(f"{API}/users/{target}", headers=bearer(ada))
        assert_error(response, 403, "FORBIDDEN")
    key = (await world.new_key(ada))["key"]
    response = await world.client.get(f"{API}/users/{bob_id}", headers={"X-API-Key": key})
    assert_error(response, 403, "FORBIDDEN")

    admin = await _admin_token(world)
    response = await world.client.get(f"{API}/users/{bob_id}", headers=bearer(admin))
    assert response.status_code == 200, response.text
    bob = response.json()["data"]
    assert bob["id"] == bob_id and bob["email"] == "bob@example.com" and bob["role"] == "USER"
    assert_no_secrets(response, PASSWORD)
    me = (await world.me(admin)).json()["data"]
    assert me["role"] == "ADMIN"


async def test_users_by_id_unknown_or_malformed_is_404(world):
    admin = await _admin_token(world)
    for target in (str(uuid.uuid4()), "not-a-uuid", "1", "me2", "00000000-0000-0000-0000"):
        response = await world.client.get(f"{API}/users/{target}", headers=bearer(admin))
        assert_error(response, 404, "NOT_FOUND")


# -- API keys: create, list ----------------------------------------------------------------


async def test_create_an_api_key_shows_it_once(world):
    user_id, token = await _user(world)
    response = await world.create_key(token, name="deploy bot")
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert set(data) == {"apiKey", "key"}
    key, stored = data["key"], data["apiKey"]
    assert re.fullmatch(r"tck_[A-Za-z0-9_-]{43}", key), key
    assert stored["keyPrefix"] == key[:12]
    assert stored["name"] == "deploy bot"
    assert stored["scopes"] == ["*"]
    assert stored["rateLimitPerMinute"] == 60
    assert stored["userId"] == user_id
    assert all("_" not in field for field in stored), stored
    digest = hashlib.sha256(key.encode()).hexdigest()
    assert_no_secrets(response, digest, PASSWORD)
    assert key.count(key[12:]) == 1 and response.text.count(key) == 1  # the key, once
    # the listing has it, without the key or its hash
    listing = await world.client.get(KEYS, headers=bearer(token))
    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert body["success"] is True
    assert body["meta"]["total"] == 1 and body["meta"]["page"] == 1
    [listed] = body["data"]
    assert listed["id"] == stored["id"]
    assert listed["keyPrefix"] == key[:12]
    assert key not in listing.text and key[12:] not in listing.text
    assert_no_secrets(listing, digest)


async def test_keys_are_listed_per_user_newest_first(world):
    _, ada = await _user(world)
    _, bob = await _user(world, "bob@example.com")
    for name in ("one", "two"):
        await world.new_key(ada, name=name)
        world.clock.advance(1)
    await world.new_key(bob, name="bobs")
    listing = (await world.client.get(KEYS, headers=bearer(ada))).json()
    assert [k["name"] for k in listing["data"]] == ["two", "one"]
    listing = (await world.client.get(KEYS, headers=bearer(bob))).json()
    assert [k["name"] for k in listing["data"]] == ["bobs"]


async def test_scopes_are_recorded_and_deduplicated(world):
    _, token = await _user(world)
    data = await world.new_key(
        token, scopes=["workflows:read", "agents:write", "workflows:read"], rateLimitPerMinute=5
    )
    assert data["apiKey"]["scopes"] == ["workflows:read", "agents:write"]
    assert data["apiKey"]["rateLimitPerMinute"] == 5
    assert (await world.new_key(token, scopes=[]))["apiKey"]["scopes"] == ["*"]
    assert (await world.new_key(token, scopes=["*"]))["apiKey"]["scopes"] == ["*"]


async def test_a_key_reads_its_own_account_only_with_users_read(world):
    """GET /users/me is an account route: a key needs a scope that names it (users:read,
    or *); workflows:read is not enough (403)."""
    user_id, token = await _user(world)
    narrow = (await world.new_key(token, scopes=["workflows:read"]))["key"]
    assert_error(await world.me(key=narrow), 403, "FORBIDDEN")
    for scopes in (["users:read"], ["*"]):
        key = (await world.new_key(token, scopes=scopes))["key"]
        response = await world.me(key=key)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["id"] == user_id


@pytest.mark.parametrize(
    ("scopes", "fields"),
    [
        (["bogus"], ["scopes.0"]),
        (["agents:read", "workflows:delete", "users:write"], ["scopes.1", "scopes.2"]),
        (["agents"], ["scopes.0"]),
        (["agents:"], ["scopes.0"]),
        ([":read"], ["scopes.0"]),
        (["AGENTS:READ"], ["scopes.0"]),
        (["*:read"], ["scopes.0"]),
        ([""], ["scopes.0"]),
        (["admin"], ["scopes.0"]),
    ],
)
async def test_bad_scopes_are_400_naming_each(world, scopes, fields):
    _, token = await _user(world)
    response = await world.create_key(token, scopes=scopes)
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == fields
    assert (await world.client.get(KEYS, headers=bearer(token))).json()["data"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rateLimitPerMinute": 0}, "rateLimitPerMinute"),
        ({"rateLimitPerMinute": -1}, "rateLimitPerMinute"),
        ({"rateLimitPerMinute": 100_001}, "rateLimitPerMinute"),
        ({"rateLimitPerMinute": 10**30}, "rateLimitPerMinute"),
        ({"rateLimitPerMinute": 1.5}, "rateLimitPerMinute"),
        ({"scopes": "*"}, "scopes"),
        ({"scopes": ["*"] * 33}, "scopes"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"keyHash": "x"}, "keyHash"),
        ({"expiresAt": "not a date"}, "expiresAt"),
    ],
)
async def test_bad_key_bodies_are_400_naming_the_field(world, body, field):
    _, token = await _user(world)
    response = await world.create_key(token, **body)
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == [field]


async def test_a_missing_name_is_400(world):
    _, token = await _user(world)
    response = await world.client.post(KEYS, json={}, headers=bearer(token))
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["name"]


async def test_the_rate_limit_bounds_are_accepted(world):
    _, token = await _user(world)
    for limit in (1, 100_000):
        data = await world.new_key(token, rateLimitPerMinute=limit)
        assert data["apiKey"]["rateLimitPerMinute"] == limit


@pytest.mark.parametrize("expires_in", [-3600, -1, 0])
async def test_expires_at_in_the_past_is_400(world, expires_in):
    _, token = await _user(world)
    response = await world.create_key(token, expiresAt=_iso(world, expires_in))
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["expiresAt"]


async def test_expires_at_without_an_offset_is_400(world):
    _, token = await _user(world)
    naive = (world.clock.now() + timedelta(days=1)).replace(tzinfo=None).isoformat()
    response = await world.create_key(token, expiresAt=naive)
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["expiresAt"]


async def test_an_expired_key_is_401(world):
    _, token = await _user(world)
    data = await world.new_key(token, expiresAt=_iso(world, 3600))
    assert data["apiKey"]["expiresAt"]
    key = data["key"]
    assert (await world.me(key=key)).status_code == 200
    world.clock.advance(3601)
    response = await world.me(key=key)
    assert_error(response, 401, "INVALID_TOKEN")
    assert response.headers["www-authenticate"].startswith("Bearer")


# -- API keys: using one -----------------------------------------------------------------


async def test_each_key_response_carries_its_rate_limit_and_429_when_over(world):
    _, token = await _user(world)
    key = (await world.new_key(token, rateLimitPerMinute=3))["key"]
    for remaining in (2, 1, 0):
        response = await world.me(key=key)
        assert response.status_code == 200, response.text
        assert response.headers["x-ratelimit-limit"] == "3"
        assert response.headers["x-ratelimit-remaining"] == str(remaining)
        reset = response.headers["x-ratelimit-reset"]
        assert re.fullmatch(r"[0-9]+", reset) and 1 <= int(reset) <= 60, reset
        world.clock.advance(1)
    over = await world.me(key=key)
    error = assert_error(over, 429, "RATE_LIMITED")
    assert error["message"]
    retry_after = over.headers["retry-after"]
    assert re.fullmatch(r"[1-9][0-9]*", retry_after) and int(retry_after) <= 60, retry_after
    assert over.headers["x-ratelimit-limit"] == "3"
    assert over.headers["x-ratelimit-remaining"] == "0"
    # a refused request is not counted; a bearer token is not limited by the key
    assert_error(await world.me(key=key), 429, "RATE_LIMITED")
    bearer_response = await world.me(token)
    assert bearer_response.status_code == 200
    assert "x-ratelimit-limit" not in bearer_response.headers
    # after the window, the key works again with a fresh budget
    world.clock.advance(61)
    response = await world.me(key=key)
    assert response.status_code == 200, response.text
    assert response.headers["x-ratelimit-remaining"] == "2"


async def test_a_key_429_also_carries_x_ratelimit_reset(world):
    _, token = await _user(world)
    key = (await world.new_key(token, rateLimitPerMinute=1))["key"]
    assert (await world.me(key=key)).status_code == 200
    over = await world.me(key=key)
    assert over.status_code == 429
    assert over.headers["x-ratelimit-reset"] == over.headers["retry-after"]


async def test_each_key_has_its_own_budget(world):
    _, token = await _user(world)
    first = (await world.new_key(token, rateLimitPerMinute=1))["key"]
    second = (await world.new_key(token, rateLimitPerMinute=1))["key"]
    assert (await world.me(key=first)).status_code == 200
    assert_error(await world.me(key=first), 429, "RATE_LIMITED")
    assert (await world.me(key=second)).status_code == 200


@pytest.mark.parametrize(
    "key",
    ["tck_short", "tck_" + "A" * 43, "x" * 5000, "tck_" + "A" * 42 + "!", "Bearer tck_x"],
)
async def test_unknown_or_malformed_keys_are_401(world, key):
    await _user(world)
    response = await world.me(key=key)
    assert_error(response, 401, "INVALID_TOKEN")
    assert "x-ratelimit-limit" not in response.headers


async def test_a_bearer_header_wins_over_an_api_key(world):
    """With both, the ``Authorization`` header is what is checked (no fallback to the key)."""
    _, token = await _user(world)
    key = (await world.new_key(token))["key"]
    assert_error(await world.me("not-a-token", key=key), 401, "INVALID_TOKEN")
    response = await world.me(token, key="tck_garbage")
    assert response.status_code == 200


async def test_a_key_cannot_manage_keys(world):
    _, token = await _user(world)
    data = await world.new_key(token)
    key, key_id = data["key"], data["apiKey"]["id"]
    headers = {"X-API-Key": key}
    create = await world.client.post(KEYS, json={"name": "escalate"}, headers=headers)
    assert_error(create, 403, "FORBIDDEN")
    assert_error(await world.client.get(KEYS, headers=headers), 403, "FORBIDDEN")
    assert_error(await world.client.delete(f"{KEYS}/{key_id}", headers=headers), 403, "FORBIDDEN")
    listing = (await world.client.get(KEYS, headers=bearer(token))).json()
    assert [k["id"] for k in listing["data"]] == [key_id]
    assert (await world.me(key=key)).status_code == 200


# -- API keys: revoke ----------------------------------------------------------------------


async def test_delete_revokes_a_key_at_once(world):
    _, token = await _user(world)
    data = await world.new_key(token)
    key, key_id = data["key"], data["apiKey"]["id"]
    keep = (await world.new_key(token, name="keep"))["key"]
    assert (await world.me(key=key)).status_code == 200
    response = await world.client.delete(f"{KEYS}/{key_id}", headers=bearer(token))
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_error(await world.me(key=key), 401, "INVALID_TOKEN")
    listing = (await world.client.get(KEYS, headers=bearer(token))).json()
    assert [k["name"] for k in listing["data"]] == ["keep"]
    assert (await world.me(key=keep)).status_code == 200
    # deleting it again: gone
    again = await world.client.delete(f"{KEYS}/{key_id}", headers=bearer(token))
    assert again.status_code in (204, 404), again.text
    if again.status_code == 404:
        assert_error(again, 404, "NOT_FOUND")


async def test_another_users_key_is_404_on_delete(world):
    _, ada = await _user(world)
    _, bob = await _user(world, "bob@example.com")
    data = await world.new_key(bob)
    key, key_id = data["key"], data["apiKey"]["id"]
    for target in (key_id, str(uuid.uuid4())):
        response = await world.client.delete(f"{KEYS}/{target}", headers=bearer(ada))
        assert_error(response, 404, "NOT_FOUND")
    # Ada learns nothing: the same answer as for a key that does not exist
    nobody_id = str(uuid.uuid4())
    mine = await world.client.delete(f"{KEYS}/{key_id}", headers=bearer(ada))
    nobody = await world.client.delete(f"{KEYS}/{nobody_id}", headers=bearer(ada))
    assert without_request_id(mine).replace(key_id.encode(), b"<id>") == without_request_id(
        nobody
    ).replace(nobody_id.encode(), b"<id>")
    assert (await world.me(key=key)).status_code == 200
    assert len((await world.client.get(KEYS, headers=bearer(bob))).json()["data"]) == 1


@pytest.mark.parametrize("target", ["not-a-uuid", "1", "00000000"])
async def test_delete_with_a_malformed_id_is_404(world, target):
    _, token = await _user(world)
    response = await world.client.delete(f"{KEYS}/{target}", headers=bearer(token))
    assert_error(response, 404, "NOT_FOUND")


async def test_logging_out_does_not_revoke_api_keys(world):
    """API keys are credentials of their own, revoked with DELETE, not with a session."""
    _, token = await _user(world)
    key = (await world.new_key(token))["key"]
    assert (await world.client.post(f"{API}/auth/logout", headers=bearer(token))).status_code == 204
    assert (await world.me(key=key)).status_code == 200
