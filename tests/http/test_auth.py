"""``/auth`` through HTTP: register, login (enumeration, throttling), refresh rotation and
reuse, token tampering, logout, forgot/reset password (SPEC §3)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator

import jwt
import pytest

from tests.http.accounts_helpers import (
    JWT_SECRET,
    OTHER_PASSWORD,
    PASSWORD,
    World,
    assert_no_secrets,
    b64url,
    bearer,
    forge,
    jwt_parts,
    open_world,
    sign,
    without_request_id,
)
from tests.http.conftest import API, assert_error
from turbocat_core.domain.user import LOCAL_OWNER_EMAIL, LOCAL_OWNER_ID, UserRole

REGISTER = f"{API}/auth/register"
LOGIN = f"{API}/auth/login"
LOGOUT = f"{API}/auth/logout"
RESET = f"{API}/auth/reset-password"
ME = f"{API}/users/me"


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with open_world() as world:
        yield world


def assert_session_answer(data: dict, email: str) -> None:
    assert set(data) == {"user", "tokens"}
    user, tokens = data["user"], data["tokens"]
    assert user["email"] == email
    assert user["role"] == "USER"
    assert set(tokens) == {"accessToken", "refreshToken", "tokenType", "expiresIn"}
    assert tokens["tokenType"] == "Bearer"
    assert tokens["expiresIn"] == 900
    assert tokens["accessToken"] != tokens["refreshToken"]


# -- register -------------------------------------------------------------------------------


async def test_register_answers_201_with_the_user_and_tokens(world):
    response = await world.client.post(
        REGISTER, json={"email": "ada@example.com", "password": PASSWORD, "fullName": "Ada L"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    assert_session_answer(body["data"], "ada@example.com")
    user = body["data"]["user"]
    assert user["fullName"] == "Ada L"
    assert {"id", "email", "fullName", "role", "isActive", "createdAt", "updatedAt"} <= set(user)
    assert all("_" not in key for key in user), user  # camelCase on the wire
    assert_no_secrets(response, PASSWORD)
    # the tokens work at once
    me = await world.me(body["data"]["tokens"]["accessToken"])
    assert me.status_code == 200
    assert me.json()["data"]["id"] == user["id"]
    assert_no_secrets(me, PASSWORD)


async def test_register_stores_the_email_lower_case(world):
    data = await world.register("  Grace@Example.COM ")
    assert data["user"]["email"] == "grace@example.com"
    assert (await world.login("GRACE@example.com")).status_code == 200


@pytest.mark.parametrize("again", ["ada@example.com", "ADA@Example.com", " Ada@example.COM"])
async def test_a_taken_email_is_409_already_exists_whatever_its_case(world, again):
    await world.register("ada@example.com")
    response = await world.client.post(REGISTER, json={"email": again, "password": OTHER_PASSWORD})
    assert_error(response, 409, "ALREADY_EXISTS")
    assert_no_secrets(response, OTHER_PASSWORD)
    # the first account keeps its password
    assert (await world.login("ada@example.com", PASSWORD)).status_code == 200
    assert_error(await world.login("ada@example.com", OTHER_PASSWORD), 401, "INVALID_CREDENTIALS")


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Ab1!xyz", "at least 8 characters"),
        ("abcdefg1!", "upper-case"),
        ("ABCDEFG1!", "lower-case"),
        ("Abcdefgh!", "digit"),
        ("Abcdefgh1", "special"),
        ("Aa1!" + "é" * 35, "72 bytes"),  # 39 characters, 74 bytes
        ("Aa1!" + "x" * 69, "72 bytes"),  # 73 ASCII bytes
    ],
)
async def test_a_weak_password_is_400_naming_password(world, password, rule):
    response = await world.client.post(
        REGISTER, json={"email": "ada@example.com", "password": password}
    )
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["details"], error
    assert {d["field"] for d in error["details"]} == {"password"}
    assert len(error["details"]) == 1, error["details"]  # each case breaks one rule only
    assert rule in error["details"][0]["message"]
    assert password not in response.text
    # nothing was created
    assert (
        await world.client.post(REGISTER, json={"email": "ada@example.com", "password": PASSWORD})
    ).status_code == 201


async def test_a_password_of_exactly_72_bytes_is_accepted(world):
    password = "Aa1!" + "x" * 68
    assert len(password.encode()) == 72
    await world.register("ada@example.com", password)
    assert (await world.login("ada@example.com", password)).status_code == 200


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "a@b", "a @b.com", "@example.com", "ada@", "a@@b.com", "x" * 250 + "@b.co"],
)
async def test_a_bad_email_is_400_naming_email(world, email):
    response = await world.client.post(REGISTER, json={"email": email, "password": PASSWORD})
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["email"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "ada@example.com", "password": PASSWORD, "role": "ADMIN"},
        {"email": "ada@example.com", "password": PASSWORD, "isActive": True},
        {"email": "ada@example.com", "password": PASSWORD, "full_name": "snake"},
    ],
)
async def test_unknown_fields_are_refused(world, body):
    response = await world.client.post(REGISTER, json=body)
    error = assert_error(response, 400, "VALIDATION_ERROR")
    extra = (set(body) - {"email", "password"}).pop()
    assert error["details"] == [{"field": extra, "message": "unknown field"}]
    # and no ADMIN slipped in
    data = await world.register()
    assert data["user"]["role"] == "USER"


@pytest.mark.parametrize(
    "body",
    [{}, {"email": "ada@example.com"}, {"password": PASSWORD}, {"email": 1, "password": PASSWORD}],
)
async def test_missing_or_mistyped_fields_are_400(world, body):
    assert_error(await world.client.post(REGISTER, json=body), 400, "VALIDATION_ERROR")


async def test_a_body_that_is_not_json_is_400_not_500(world):
    response = await world.client.post(
        REGISTER, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"BAD_REQUEST", "VALIDATION_ERROR"}


# -- login ---------------------------------------------------------------------------------


async def test_login_answers_200_with_a_new_session(world):
    first = (await world.register())["tokens"]
    response = await world.login()
    assert response.status_code == 200, response.text
    assert_session_answer(response.json()["data"], "ada@example.com")
    assert_no_secrets(response, PASSWORD)
    tokens = response.json()["data"]["tokens"]
    assert tokens["accessToken"] != first["accessToken"]
    assert tokens["refreshToken"] != first["refreshToken"]
    for access in (first["accessToken"], tokens["accessToken"]):  # two live sessions
        assert (await world.me(access)).status_code == 200


async def _disable(world: World, email: str) -> None:
    """No endpoint disables an account yet: done in the store, as an operator would."""
    async with world.container.uow()() as uow:
        user = await uow.users.get_by_email(email)
        await uow.users.update(dataclasses.replace(user, is_active=False))
        await uow.commit()


async def test_login_failures_are_indistinguishable(world):
    """Unknown email, wrong password, an over-72-byte password (sharing the real one's
    first 72 bytes, which bcrypt alone would accept) and a disabled account: one status,
    code, message, headers and body, byte for byte but the request id. Each of them pays a
    bcrypt check in the code (the dummy hash); time is not measured here."""
    long_password = "Aa1!" + "x" * 68  # exactly 72 bytes
    await world.register("ada@example.com", long_password)
    await world.register("off@example.com", PASSWORD)
    await _disable(world, "off@example.com")
    attempts = [
        ("nobody@example.com", long_password),
        ("ada@example.com", "Wrong-password-1"),
        ("ada@example.com", long_password + "y"),  # 73 bytes: refused, not truncated
        ("ada@example.com", long_password + "é" * 100),
        ("off@example.com", PASSWORD),  # the right password of a disabled account
        ("no-at-sign", PASSWORD),
    ]
    responses = [await world.login(email, password) for email, password in attempts]
    for response in responses:
        assert_error(response, 401, "INVALID_CREDENTIALS")
    first = responses[0]
    for response in responses[1:]:
        assert without_request_id(response) == without_request_id(first)
        assert response.headers.get("www-authenticate") == first.headers.get("www-authenticate")
        assert sorted(response.headers.keys()) == sorted(first.headers.keys())
    assert first.json()["error"]["message"] == "invalid email or password"
    assert set(first.json()["error"]) == {"code", "message", "requestId"}
    # the right 72-byte password still works
    assert (await world.login("ada@example.com", long_password)).status_code == 200


async def test_a_disabled_account_loses_its_sessions(world):
    tokens = (await world.register())["tokens"]
    await _disable(world, "ada@example.com")
    assert_error(await world.me(tokens["accessToken"]), 401, "INVALID_TOKEN")
    assert_error(await world.refresh(tokens["refreshToken"]), 401, "INVALID_TOKEN")


@pytest.mark.parametrize("email", ["ada@example.com", "nobody@example.com"])
async def test_five_failures_lock_the_account_for_15_minutes(world, email):
    """Known and unknown emails lock alike (no enumeration through the throttle)."""
    await world.register("ada@example.com")
    for _ in range(5):
        assert_error(await world.login(email, "Wrong-password-1"), 401, "INVALID_CREDENTIALS")
    locked = await world.login(email, PASSWORD)
    error = assert_error(locked, 429, "RATE_LIMITED")
    assert "tokens" not in locked.text
    retry_after = locked.headers["retry-after"]
    assert re.fullmatch(r"[1-9][0-9]*", retry_after), retry_after
    assert 1 <= int(retry_after) <= 900
    assert error["message"]
    # another account from the same address is not locked
    await world.register("bob@example.com")
    assert (await world.login("bob@example.com")).status_code == 200
    # still locked just before the window ends, open after it
    world.clock.advance(int(retry_after) - 2)
    assert_error(await world.login(email, PASSWORD), 429, "RATE_LIMITED")
    world.clock.advance(901 - (int(retry_after) - 2))
    if email == "ada@example.com":
        response = await world.login(email, PASSWORD)
        assert response.status_code == 200, response.text
    else:
        assert_error(await world.login(email, PASSWORD), 401, "INVALID_CREDENTIALS")


async def test_the_lock_answers_the_same_for_a_known_and_an_unknown_email(world):
    await world.register("ada@example.com")
    for email in ("ada@example.com", "nobody@example.com"):
        for _ in range(5):
            await world.login(email, "Wrong-password-1")
    known = await world.login("ada@example.com", PASSWORD)
    unknown = await world.login("nobody@example.com", PASSWORD)
    assert_error(known, 429, "RATE_LIMITED")
    assert without_request_id(known) == without_request_id(unknown)
    assert known.headers["retry-after"] == unknown.headers["retry-after"]


async def test_a_successful_login_resets_the_account_count(world):
    await world.register()
    for _ in range(2):
        for _ in range(4):
            assert_error(await world.login(password="Wrong-password-1"), 401, "INVALID_CREDENTIALS")
        assert (await world.login()).status_code == 200


async def test_thirty_failures_from_one_address_lock_it(world):
    """The test client always comes from the same address (``testclient``)."""
    await world.register("ada@example.com")
    for i in range(30):  # 6 emails x 5: no single account is locked before the last round
        email = f"user{i % 6}@example.com"
        response = await world.login(email, "Wrong-password-1")
        assert_error(response, 401, "INVALID_CREDENTIALS")
    # the address is now locked, even for an account with no failures
    response = await world.login("ada@example.com", PASSWORD)
    assert_error(response, 429, "RATE_LIMITED")
    assert int(response.headers["retry-after"]) <= 900
    world.clock.advance(901)
    assert (await world.login("ada@example.com", PASSWORD)).status_code == 200


# -- refresh -------------------------------------------------------------------------------


async def test_refresh_rotates_and_a_reused_token_revokes_the_session(world):
    old = (await world.register())["tokens"]
    response = await world.refresh(old["refreshToken"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["data"]) == {"tokens"}
    new = body["data"]["tokens"]
    assert new["tokenType"] == "Bearer" and new["expiresIn"] == 900
    assert new["accessToken"] != old["accessToken"]
    assert new["refreshToken"] != old["refreshToken"]
    # the old access token works until it expires; the new one too
    assert (await world.me(old["accessToken"])).status_code == 200
    assert (await world.me(new["accessToken"])).status_code == 200
    # replaying the spent refresh token revokes the whole session
    assert_error(await world.refresh(old["refreshToken"]), 401, "INVALID_TOKEN")
    assert_error(await world.refresh(new["refreshToken"]), 401, "INVALID_TOKEN")
    assert_error(await world.me(new["accessToken"]), 401, "INVALID_TOKEN")
    assert_error(await world.me(old["accessToken"]), 401, "INVALID_TOKEN")
    # other sessions of the account are untouched
    assert (await world.me((await world.session())["accessToken"])).status_code == 200


async def test_refresh_chains(world):
    tokens = (await world.register())["tokens"]
    for _ in range(3):
        world.clock.advance(600)
        response = await world.refresh(tokens["refreshToken"])
        assert response.status_code == 200, response.text
        tokens = response.json()["data"]["tokens"]
        assert (await world.me(tokens["accessToken"])).status_code == 200


async def test_an_old_access_token_expires_after_a_refresh(world):
    old = (await world.register())["tokens"]
    world.clock.advance(600)
    new = (await world.refresh(old["refreshToken"])).json()["data"]["tokens"]
    world.clock.advance(301)
    assert_error(await world.me(old["accessToken"]), 401, "TOKEN_EXPIRED")
    assert (await world.me(new["accessToken"])).status_code == 200


async def test_refresh_with_an_access_token_is_invalid_token(world):
    tokens = (await world.register())["tokens"]
    assert_error(await world.refresh(tokens["accessToken"]), 401, "INVALID_TOKEN")
    # and it did not spend or revoke anything
    assert (await world.refresh(tokens["refreshToken"])).status_code == 200


@pytest.mark.parametrize("junk", ["", "x", "a.b.c", "Bearer x", "é" * 10, "x" * 5000])
async def test_refresh_with_junk_is_4xx_never_500(world, junk):
    response = await world.refresh(junk)
    assert response.status_code in (400, 401), response.text
    if response.status_code == 401:
        assert_error(response, 401, "INVALID_TOKEN")
    else:
        assert_error(response, 400, "VALIDATION_ERROR")


async def test_an_expired_refresh_token_is_token_expired(world):
    tokens = (await world.register())["tokens"]
    world.clock.advance(7 * 24 * 3600 + 1)
    assert_error(await world.refresh(tokens["refreshToken"]), 401, "TOKEN_EXPIRED")


# -- bearer tokens on GET /users/me ------------------------------------------------------


async def test_missing_credentials_are_401_unauthorized_with_www_authenticate(world):
    response = await world.client.get(ME)
    assert_error(response, 401, "UNAUTHORIZED")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "bearer",
        "Bearer " + "x" * 5000,
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "Bearer a.b",
        "Bearer ...",
        "Bearer %%%.%%%.%%%",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.",
    ],
)
async def test_malformed_authorization_is_401_never_500(world, header):
    response = await world.client.get(ME, headers={"Authorization": header})
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] in {"UNAUTHORIZED", "INVALID_TOKEN"}
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_refresh_token_is_not_a_bearer_token(world):
    tokens = (await world.register())["tokens"]
    assert_error(await world.me(tokens["refreshToken"]), 401, "INVALID_TOKEN")


async def test_an_access_token_expires_after_15_minutes(world):
    tokens = (await world.register())["tokens"]
    world.clock.advance(899)
    assert (await world.me(tokens["accessToken"])).status_code == 200
    world.clock.advance(2)
    response = await world.me(tokens["accessToken"])
    assert_error(response, 401, "TOKEN_EXPIRED")
    assert response.headers["www-authenticate"].startswith("Bearer")
    # the session itself lives on: its refresh token still works
    assert (await world.refresh(tokens["refreshToken"])).status_code == 200


def _tampered(token: str, other_user_id: str) -> dict[str, str]:
    header, payload, signature = jwt_parts(token)
    head, body, _ = token.split(".")
    middle = len(signature) // 2
    flipped = (
        signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    )
    return {
        "alg none": forge({"alg": "none", "typ": "JWT"}, payload, ""),
        "alg None, signature kept": forge({"alg": "None", "typ": "JWT"}, payload, signature),
        "wrong key": jwt.encode(payload, "another-secret-" + "k" * 40, algorithm="HS256"),
        "HS512 with the right key": sign(
            {"alg": "HS512", "typ": "JWT"}, payload, JWT_SECRET, "sha512"
        ),
        "HS256 header, HS512 signature": sign(header, payload, JWT_SECRET, "sha512"),
        "signature altered": f"{head}.{body}.{flipped}",
        "signature removed": f"{head}.{body}.",
        "sub changed": forge(header, {**payload, "sub": other_user_id}, signature),
        "exp extended": forge(header, {**payload, "exp": payload["exp"] + 86400}, signature),
        "type changed": forge(header, {**payload, "type": "refresh"}, signature),
        "header kid added": forge({**header, "kid": "x"}, payload, signature),
        "unpadded garbage payload": f"{head}.{b64url(b'not json')}.{signature}",
    }


async def test_tampered_tokens_are_invalid_token(world):
    tokens = (await world.register("ada@example.com"))["tokens"]
    other = (await world.register("bob@example.com"))["user"]["id"]
    for name, forged in _tampered(tokens["accessToken"], other).items():
        response = await world.me(forged)
        assert response.status_code == 401, (name, response.text)
        assert response.json()["error"]["code"] == "INVALID_TOKEN", name
    assert (await world.me(tokens["accessToken"])).status_code == 200
    # control: the forging helpers rebuild a valid token when nothing is changed
    header, payload, signature = jwt_parts(tokens["accessToken"])
    assert (await world.me(forge(header, payload, signature))).status_code == 200


async def test_tokens_signed_with_the_right_key_but_wrong_claims_are_refused(world):
    """Even with the secret, a token needs every claim, the issuer and a live session."""
    tokens = (await world.register())["tokens"]
    other = (await world.register("bob@example.com"))["user"]["id"]
    _, payload, _ = jwt_parts(tokens["accessToken"])
    variants = {
        "sub of another user, this session": {**payload, "sub": other},
        "no sid": {k: v for k, v in payload.items() if k != "sid"},
        "no exp": {k: v for k, v in payload.items() if k != "exp"},
        "no iss": {k: v for k, v in payload.items() if k != "iss"},
        "wrong iss": {**payload, "iss": "someone-else"},
        "unknown sid": {**payload, "sid": "0190a8a8-0000-7000-8000-000000000000"},
        "sid not a uuid": {**payload, "sid": "nope"},
        "sub not a uuid": {**payload, "sub": "nope"},
    }
    for name, claims in variants.items():
        response = await world.me(jwt.encode(claims, JWT_SECRET, algorithm="HS256"))
        assert response.status_code == 401, (name, response.text)
        assert response.json()["error"]["code"] == "INVALID_TOKEN", name
    # control: the same claims, untouched and re-signed, are accepted
    resigned = jwt.encode(payload, JWT_SECRET, algorithm="HS256")
    assert (await world.me(resigned)).status_code == 200


# -- logout --------------------------------------------------------------------------------


async def test_logout_ends_the_session(world):
    tokens = (await world.register())["tokens"]
    other = await world.session()
    response = await world.client.post(LOGOUT, headers=bearer(tokens["accessToken"]))
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_error(await world.me(tokens["accessToken"]), 401, "INVALID_TOKEN")
    assert_error(await world.refresh(tokens["refreshToken"]), 401, "INVALID_TOKEN")
    # logging out again with the dead token is a 401, not a 500
    assert_error(
        await world.client.post(LOGOUT, headers=bearer(tokens["accessToken"])), 401, "INVALID_TOKEN"
    )
    # the account's other session is untouched
    assert (await world.me(other["accessToken"])).status_code == 200


async def test_logout_needs_credentials(world):
    assert_error(await world.client.post(LOGOUT), 401, "UNAUTHORIZED")


async def test_logout_with_an_api_key_is_403_and_ends_nothing(world):
    """Like every session-only route (PATCH /users/me, /api-keys): a key is a valid
    credential but not a session, so FORBIDDEN, not UNAUTHORIZED."""
    tokens = (await world.register())["tokens"]
    key = (await world.new_key(tokens["accessToken"]))["key"]
    response = await world.client.post(LOGOUT, headers={"X-API-Key": key})
    assert_error(response, 403, "FORBIDDEN")
    assert (await world.me(key=key)).status_code == 200
    assert (await world.me(tokens["accessToken"])).status_code == 200
    assert (await world.refresh(tokens["refreshToken"])).status_code == 200


# -- forgot / reset password ---------------------------------------------------------------


async def test_forgot_password_answers_alike_for_known_and_unknown_emails(world):
    await world.register("ada@example.com")
    unknown = await world.forgot("nobody@example.com")
    assert world.outbox.messages == []
    known = await world.forgot("ADA@example.com")
    for response in (unknown, known):
        assert response.status_code == 200, response.text
        assert response.json()["success"] is True
    assert without_request_id(known) == without_request_id(unknown)
    assert known.content == unknown.content  # success bodies carry no request id at all
    assert sorted(known.headers.keys()) == sorted(unknown.headers.keys())
    malformed = await world.forgot("not-an-email")
    assert malformed.content == known.content
    # exactly one mail, to the account, with a one-time link
    [mail] = world.outbox.messages
    assert mail.to == "ada@example.com"
    token = world.reset_token()
    assert len(token) >= 32
    assert token not in known.text


async def test_forgot_password_finds_the_account_by_any_form_of_its_email(world):
    await world.register("ab@example.com")
    for variant in ("\uff21\uff22@example.com", "a\u200bb@example.com"):  # ＡＢ, zero-width
        assert (await world.forgot(variant)).status_code == 200
    assert [mail.to for mail in world.outbox.messages] == ["ab@example.com"] * 2


async def test_forgot_password_sends_at_most_three_mails_an_hour(world):
    await world.register()
    responses = [await world.forgot("ada@example.com") for _ in range(5)]
    assert {r.content for r in responses} == {responses[0].content}
    assert len(world.outbox.messages) == 3
    world.clock.advance(3601)
    await world.forgot("ada@example.com")
    assert len(world.outbox.messages) == 4


async def test_reset_password_changes_it_once_and_ends_every_session(world):
    first = (await world.register())["tokens"]
    second = await world.session()
    await world.forgot("ada@example.com")
    token = world.reset_token()
    response = await world.client.post(RESET, json={"token": token, "password": OTHER_PASSWORD})
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True
    assert_no_secrets(response, OTHER_PASSWORD, token)
    for tokens in (first, second):
        assert_error(await world.me(tokens["accessToken"]), 401, "INVALID_TOKEN")
        assert_error(await world.refresh(tokens["refreshToken"]), 401, "INVALID_TOKEN")
    # the token is spent
    again = await world.client.post(RESET, json={"token": token, "password": "Third-pass-3"})
    assert_error(again, 401, "INVALID_TOKEN")
    # the new password logs in, the old one does not
    assert_error(await world.login(password=PASSWORD), 401, "INVALID_CREDENTIALS")
    assert (await world.login(password=OTHER_PASSWORD)).status_code == 200


async def test_an_expired_reset_token_is_invalid(world):
    await world.register()
    await world.forgot("ada@example.com")
    token = world.reset_token()
    world.clock.advance(3601)
    response = await world.client.post(RESET, json={"token": token, "password": OTHER_PASSWORD})
    assert_error(response, 401, "INVALID_TOKEN")
    assert (await world.login()).status_code == 200  # the password did not change


async def test_a_reset_token_is_good_for_almost_an_hour(world):
    await world.register()
    await world.forgot("ada@example.com")
    world.clock.advance(3590)
    response = await world.client.post(
        RESET, json={"token": world.reset_token(), "password": OTHER_PASSWORD}
    )
    assert response.status_code == 200, response.text


async def test_a_weak_new_password_keeps_the_token_usable(world):
    await world.register()
    await world.forgot("ada@example.com")
    token = world.reset_token()
    response = await world.client.post(RESET, json={"token": token, "password": "weak"})
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert {d["field"] for d in error["details"]} == {"password"}
    response = await world.client.post(RESET, json={"token": token, "password": OTHER_PASSWORD})
    assert response.status_code == 200, response.text
    assert (await world.login(password=OTHER_PASSWORD)).status_code == 200


@pytest.mark.parametrize("token", ["x", "a" * 43, "é" * 40, "x" * 4096])
async def test_an_unknown_reset_token_is_invalid_token(world, token):
    await world.register()
    response = await world.client.post(RESET, json={"token": token, "password": OTHER_PASSWORD})
    assert_error(response, 401, "INVALID_TOKEN")
    assert (await world.login()).status_code == 200


async def test_a_reset_token_works_only_for_its_own_account(world):
    await world.register("ada@example.com")
    await world.register("bob@example.com")
    await world.forgot("bob@example.com")
    [mail] = world.outbox.messages
    assert mail.to == "bob@example.com"
    response = await world.client.post(
        RESET, json={"token": world.reset_token(), "password": OTHER_PASSWORD}
    )
    assert response.status_code == 200
    assert (await world.login("ada@example.com", PASSWORD)).status_code == 200
    assert (await world.login("bob@example.com", OTHER_PASSWORD)).status_code == 200


async def test_a_reset_spends_the_accounts_other_reset_links(world):
    await world.register()
    await world.forgot("ada@example.com")
    older = world.reset_token()
    await world.forgot("ada@example.com")
    response = await world.client.post(
        RESET, json={"token": world.reset_token(), "password": OTHER_PASSWORD}
    )
    assert response.status_code == 200
    response = await world.client.post(RESET, json={"token": older, "password": "Third-pass-3"})
    assert_error(response, 401, "INVALID_TOKEN")


async def test_the_local_owner_cannot_log_in(world):
    """The built-in owner of embedded runs (in every store) is refused as a wrong password
    is: whatever the password, one answer, byte for byte but the request id."""
    unknown = await world.login("nobody@example.com", PASSWORD)
    for password in ("!", PASSWORD, "x" * 8):
        response = await world.login(LOCAL_OWNER_EMAIL, password)
        assert_error(response, 401, "INVALID_CREDENTIALS")
        assert without_request_id(response) == without_request_id(unknown)


async def test_an_admin_sees_the_local_owner_as_an_inactive_account(world):
    await world.container.create_user()("root@example.com", PASSWORD, role=UserRole.ADMIN)
    admin = (await world.session("root@example.com", PASSWORD))["accessToken"]
    response = await world.client.get(f"{API}/users/{LOCAL_OWNER_ID}", headers=bearer(admin))
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["email"], data["isActive"]) == (LOCAL_OWNER_EMAIL, False)
    assert_no_secrets(response)
