"""One-time-token contract: a token gives its subject once, and only before it expires."""

from __future__ import annotations


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
