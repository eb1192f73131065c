"""Replay-guard contract: a key is accepted once while it is remembered, by exactly one of
any number of concurrent callers; it is accepted again once it expires or is forgotten."""

from __future__ import annotations

import asyncio


async def test_a_key_is_accepted_once(replay_guard):
    assert await replay_guard.first_use("webhook:1:abc", 600) is True
    assert await replay_guard.first_use("webhook:1:abc", 600) is False
    assert await replay_guard.first_use("webhook:1:abd", 600) is True  # another key
    assert await replay_guard.first_use("webhook:2:abc", 600) is True


async def test_a_key_is_remembered_until_exactly_its_ttl(replay_guard, clock):
    assert await replay_guard.first_use("k", 60)
    clock.advance(59)
    assert await replay_guard.first_use("k", 60) is False
    clock.advance(1)
    assert await replay_guard.first_use("k", 60) is True  # expired: a first use again
    clock.advance(59)
    assert await replay_guard.first_use("k", 60) is False  # and remembered anew


async def test_a_refused_use_does_not_extend_the_memory(replay_guard, clock):
    assert await replay_guard.first_use("k", 10)
    clock.advance(9)
    assert await replay_guard.first_use("k", 100) is False
    clock.advance(1)
    assert await replay_guard.first_use("k", 10) is True


async def test_a_forgotten_key_is_accepted_again(replay_guard):
    assert await replay_guard.first_use("k", 600)
    await replay_guard.forget("k")
    await replay_guard.forget("never-used")
    assert await replay_guard.first_use("k", 600) is True
    assert await replay_guard.first_use("k", 600) is False


async def test_concurrent_first_uses_of_one_key_have_one_winner(replay_guard):
    results = await asyncio.gather(*(replay_guard.first_use("k", 600) for _ in range(10)))
    assert results.count(True) == 1
    assert results.count(False) == 9


async def test_racing_uses_of_many_keys_accept_each_once(replay_guard):
    uses = [replay_guard.first_use(f"k-{n}", 600) for n in range(10) for _ in range(3)]
    results = await asyncio.gather(*uses)
    assert results.count(True) == 10


async def test_expired_keys_are_swept_by_later_uses_and_live_ones_kept(replay_guard, clock):
    for n in range(5):
        assert await replay_guard.first_use(f"old-{n}", 10)
    assert await replay_guard.first_use("live", 1000)
    clock.advance(50)
    assert await replay_guard.first_use("new", 10)  # may sweep the old keys, never "live"
    assert await replay_guard.first_use("live", 1000) is False
    assert await replay_guard.first_use("new", 10) is False
    for n in range(5):
        assert await replay_guard.first_use(f"old-{n}", 10) is True
