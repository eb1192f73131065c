"""Emails are one account whatever their Unicode form (SPEC §6; issue 11): fullwidth letters
and invisible format characters neither make a second account nor lock anyone out."""

from __future__ import annotations

import pytest

from tests.http.conftest import API, assert_error
from tests.http.resources import PASSWORD, Api
from turbocat_core.domain.user import UserRole
from turbocat_core.errors import Conflict

FULLWIDTH_AB = "\uff21\uff22@example.com"  # ＡＢ@example.com
ZERO_WIDTH = "a\u200bb@example.com"


async def _register(api: Api, email: str) -> object:
    return await api.client.post(
        f"{API}/auth/register", json={"email": email, "password": PASSWORD}
    )


async def _login(api: Api, email: str) -> object:
    return await api.client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})


async def test_fullwidth_and_zero_width_variants_are_the_same_account(api: Api):
    first = await _register(api, "ab@example.com")
    assert first.status_code == 201, first.text
    account = first.json()["data"]["user"]
    for variant in (
        FULLWIDTH_AB,
        ZERO_WIDTH,
        "\ufeffab@example.com",  # a byte-order mark in front
        "a\u200db@EXAMPLE.com",  # a zero-width joiner
        "\uff41\uff42@\uff45xample.com",  # fullwidth lower case, in the domain too
    ):
        assert_error(await _register(api, variant), 409, "ALREADY_EXISTS")
    for variant in (FULLWIDTH_AB, ZERO_WIDTH, " AB@example.com "):
        logged_in = await _login(api, variant)
        assert logged_in.status_code == 200, (variant, logged_in.text)
        assert logged_in.json()["data"]["user"]["id"] == account["id"]


async def test_a_variant_registered_first_is_stored_in_the_canonical_form(api: Api):
    created = await _register(api, FULLWIDTH_AB)
    assert created.status_code == 201, created.text
    assert created.json()["data"]["user"]["email"] == "ab@example.com"
    assert_error(await _register(api, "ab@example.com"), 409, "ALREADY_EXISTS")
    assert (await _login(api, "AB@example.com")).status_code == 200


async def test_operators_cannot_create_a_variant_either(api: Api):
    await api.user("ab@example.com")
    with pytest.raises(Conflict):
        api.in_app(api.container.create_user(), ZERO_WIDTH, PASSWORD, role=UserRole.ADMIN)
    assert (
        api.in_app(
            api.container.create_user(), FULLWIDTH_AB, PASSWORD, role=UserRole.ADMIN, exist_ok=True
        )
        is None
    )


async def test_failed_logins_of_every_variant_count_against_one_account(api: Api):
    await api.user("ab@example.com")
    variants = [FULLWIDTH_AB, ZERO_WIDTH, "ab@example.com", "\uff41b@example.com", "AB@example.com"]
    for variant in variants:
        wrong = await api.client.post(
            f"{API}/auth/login", json={"email": variant, "password": "Wrong-horse-1"}
        )
        assert_error(wrong, 401, "INVALID_CREDENTIALS")
    assert_error(await _login(api, "ab@example.com"), 429, "RATE_LIMITED")
