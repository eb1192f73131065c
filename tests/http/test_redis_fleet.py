"""With Redis configured, apps in separate processes share their login throttles."""

from __future__ import annotations

import contextlib

from tests.databases import REDIS_URL
from tests.http.accounts_helpers import PASSWORD, open_world
from tests.http.conftest import assert_error


async def test_failed_logins_split_across_two_apps_lock_the_account_on_both(redis_keys):
    fleet = {"redis_url": REDIS_URL, "redis_prefix": redis_keys}
    # Two containers, each with its own (in-memory) store: two processes' worth of state,
    # sharing only Redis. The account exists in both stores.
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(open_world(**fleet))
        second = await stack.enter_async_context(open_world(**fleet))
        for world in (first, second):
            await world.register("ada@example.com")
        for n in range(5):  # 3 failures on the first app, 2 on the second
            world = first if n % 2 == 0 else second
            response = await world.login("ada@example.com", "Wrong-password-1")
            assert_error(response, 401, "INVALID_CREDENTIALS")
        for world in (first, second):
            assert_error(await world.login("ada@example.com", PASSWORD), 429, "RATE_LIMITED")
        # a successful login elsewhere is unaffected on both apps
        for world in (first, second):
            await world.register("bob@example.com")
            assert (await world.login("bob@example.com")).status_code == 200


async def test_a_redis_that_is_down_answers_503_not_500():
    async with open_world(redis_url="redis://127.0.0.1:1/0") as world:  # nothing on port 1
        error = assert_error(await world.login(), 503, "SERVICE_UNAVAILABLE")
        assert "127.0.0.1" not in error["message"]  # the driver's words stay in the log
