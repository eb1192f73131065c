"""One-time-token contract: a token gives its subject once, and only before it expires."""

from __future__ import annotations

import asyncio


async def test_a_token_is_taken_once(one_time_tokens):
    await one_time_tokens.put("hash-1", "user-1", 60)
    assert await one_time_tokens.take("hash-1") == "user-1"
    assert await one_time_tokens.take("hash-1") is None
    assert await one_time_tokens.take("unknown") is None


async def test_a_token_expires(one_time_tokens, clock):
    await one_time_tokens.put("hash-1", "user-1", 60)
    await one_time_tokens.put("hash-2", "user-2", 60)
    clock.advance(59)
    assert await one_time_tokens.take("hash-1") == "user-1"
    clock.advance(2)
    assert await one_time_tokens.take("hash-2") is None
    assert await one_time_tokens.take("hash-2") is None  # gone for good


async def test_putting_a_token_again_replaces_it(one_time_tokens, clock):
    await one_time_tokens.put("hash-1", "first", 10)
    clock.advance(9)
    await one_time_tokens.put("hash-1", "second", 10)
    clock.advance(5)
    assert await one_time_tokens.take("hash-1") == "second"


async def test_a_token_expires_exactly_at_its_ttl(one_time_tokens, clock):
    await one_time_tokens.put("hash-1", "user-1", 60)
    clock.advance(60)
    assert await one_time_tokens.take("hash-1") is None


async def test_taking_one_token_leaves_the_others(one_time_tokens, clock):
    await one_time_tokens.put("hash-1", "user-1", 10)
    await one_time_tokens.put("hash-2", "user-2", 100)
    clock.advance(50)
    assert await one_time_tokens.take("hash-1") is None  # expired
    assert await one_time_tokens.take("hash-2") == "user-2"


async def test_putting_after_others_expired_keeps_the_live_ones(one_time_tokens, clock):
    await one_time_tokens.put("old", "user-1", 10)
    await one_time_tokens.put("live", "user-2", 100)
    clock.advance(50)
    await one_time_tokens.put("new", "user-3", 10)  # may sweep "old", never "live"
    assert await one_time_tokens.take("live") == "user-2"
    assert await one_time_tokens.take("new") == "user-3"
    assert await one_time_tokens.take("old") is None


async def test_concurrent_takes_of_one_token_have_one_winner(one_time_tokens):
    await one_time_tokens.put("hash-1", "user-1", 60)
    results = await asyncio.gather(*(one_time_tokens.take("hash-1") for _ in range(8)))
    assert results.count("user-1") == 1
    assert results.count(None) == 7


async def test_racing_takes_of_many_tokens_give_each_subject_once(one_time_tokens):
    subjects = [f"user-{n}" for n in range(10)]
    for n, subject in enumerate(subjects):
        await one_time_tokens.put(f"hash-{n}", subject, 60)
    takes = [one_time_tokens.take(f"hash-{n}") for n in range(10) for _ in range(2)]
    results = await asyncio.gather(*takes)
    assert sorted(result for result in results if result is not None) == sorted(subjects)
    assert results.count(None) == 10


async def test_forgetting_a_subject_spends_all_its_tokens(one_time_tokens):
    await one_time_tokens.put("a-1", "user-a", 60)
    await one_time_tokens.put("a-2", "user-a", 60)
    await one_time_tokens.put("b-1", "user-b", 60)
    assert await one_time_tokens.forget("user-a") == 2
    assert await one_time_tokens.take("a-1") is None
    assert await one_time_tokens.take("a-2") is None
    assert await one_time_tokens.take("b-1") == "user-b"
    assert await one_time_tokens.forget("nobody") == 0
