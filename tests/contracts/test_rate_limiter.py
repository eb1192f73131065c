"""Rate-limiter contract: a sliding window per key; refused hits do not count."""

from __future__ import annotations

import asyncio

import pytest


async def test_hits_within_the_limit_are_allowed_with_what_remains(rate_limiter, clock):
    decisions = []
    for _ in range(3):
        decisions.append(await rate_limiter.hit("key", 3, 60))
        clock.advance(10)
    assert [d.allowed for d in decisions] == [True, True, True]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    assert all(d.limit == 3 for d in decisions)
    assert decisions[0].reset_after == pytest.approx(60)
    assert decisions[2].reset_after == pytest.approx(40)  # the first hit leaves in 40 s


async def test_a_hit_over_the_limit_is_refused_until_the_oldest_leaves(rate_limiter, clock):
    for _ in range(2):
        await rate_limiter.hit("key", 2, 60)
        clock.advance(15)
    refused = await rate_limiter.hit("key", 2, 60)  # at 30 s
    assert not refused.allowed
    assert refused.remaining == 0
    assert refused.reset_after == pytest.approx(30)
    clock.advance(refused.reset_after + 0.001)
    allowed = await rate_limiter.hit("key", 2, 60)
    assert allowed.allowed
    assert allowed.remaining == 0  # the second hit (at 15 s) is still in the window


async def test_the_window_slides(rate_limiter, clock):
    limit, window = 3, 10.0
    for gap in (0, 4, 4):  # hits at t = 0, 4 and 8
        clock.advance(gap)
        assert (await rate_limiter.hit("k", limit, window)).allowed
    clock.advance(1)  # t = 9: all three are within the last 10 s
    assert not (await rate_limiter.hit("k", limit, window)).allowed
    clock.advance(1.5)  # t = 10.5: the hit at 0 has left the window
    decision = await rate_limiter.hit("k", limit, window)
    assert decision.allowed
    assert decision.reset_after == pytest.approx(3.5)  # the hit at 4 leaves at 14


async def test_refused_hits_are_not_counted(rate_limiter, clock):
    await rate_limiter.hit("key", 1, 10)
    for _ in range(5):
        clock.advance(1)
        assert not (await rate_limiter.hit("key", 1, 10)).allowed
    clock.advance(5.5)  # 10.5 s after the only counted hit
    assert (await rate_limiter.hit("key", 1, 10)).allowed


async def test_keys_are_independent(rate_limiter):
    assert (await rate_limiter.hit("a", 1, 60)).allowed
    assert not (await rate_limiter.hit("a", 1, 60)).allowed
    assert (await rate_limiter.hit("b", 1, 60)).allowed


async def test_peek_counts_nothing(rate_limiter, clock):
    for _ in range(10):
        peeked = await rate_limiter.peek("key", 1, 60)
        assert peeked.allowed
        assert peeked.remaining == 1  # the room there is now: nothing was counted
        assert peeked.reset_after == pytest.approx(60)
        clock.advance(1)
    hit = await rate_limiter.hit("key", 1, 60)
    assert hit.allowed
    assert hit.remaining == 0


async def test_peek_answers_what_the_next_hit_would(rate_limiter, clock):
    for _ in range(3):
        peeked = await rate_limiter.peek("key", 3, 60)
        hit = await rate_limiter.hit("key", 3, 60)
        assert peeked.allowed and hit.allowed
        assert peeked.limit == hit.limit == 3
        assert peeked.remaining == hit.remaining + 1  # the hit took one place
        assert peeked.reset_after == pytest.approx(hit.reset_after)
        clock.advance(10)
    peeked = await rate_limiter.peek("key", 3, 60)  # at 30 s: full until the first hit leaves
    assert peeked == await rate_limiter.hit("key", 3, 60)  # a refused hit counts nothing either
    assert not peeked.allowed
    assert peeked.remaining == 0
    assert peeked.reset_after == pytest.approx(30)
    clock.advance(30.5)
    peeked = await rate_limiter.peek("key", 3, 60)
    assert peeked.allowed
    assert peeked.remaining == 1
    assert peeked.reset_after == pytest.approx(9.5)  # at 60.5 s; the hit at 10 s leaves at 70 s
    assert (await rate_limiter.hit("key", 3, 60)).allowed


async def test_peek_of_an_unknown_key_has_all_the_room(rate_limiter):
    peeked = await rate_limiter.peek("nobody", 5, 30)
    assert (peeked.allowed, peeked.limit, peeked.remaining) == (True, 5, 5)
    assert peeked.reset_after == pytest.approx(30)


async def test_reset_forgets_every_hit_of_a_key(rate_limiter, clock):
    for _ in range(2):
        await rate_limiter.hit("key", 2, 60)
        clock.advance(1)
    await rate_limiter.hit("other", 1, 60)
    assert not (await rate_limiter.hit("key", 2, 60)).allowed
    await rate_limiter.reset("key")
    peeked = await rate_limiter.peek("key", 2, 60)
    assert (peeked.allowed, peeked.remaining) == (True, 2)
    assert peeked.reset_after == pytest.approx(60)
    hit = await rate_limiter.hit("key", 2, 60)
    assert (hit.allowed, hit.remaining) == (True, 1)
    assert not (await rate_limiter.hit("other", 1, 60)).allowed  # other keys keep theirs


async def test_resetting_an_unknown_key_is_harmless(rate_limiter):
    await rate_limiter.reset("nobody")
    await rate_limiter.reset("nobody")
    assert (await rate_limiter.hit("nobody", 1, 60)).allowed


async def test_concurrent_hits_never_exceed_the_limit(rate_limiter):
    decisions = await asyncio.gather(*(rate_limiter.hit("key", 10, 60) for _ in range(50)))
    assert sum(d.allowed for d in decisions) == 10
    assert all(d.remaining == 0 for d in decisions if not d.allowed)
    peeked = await rate_limiter.peek("key", 10, 60)
    assert (peeked.allowed, peeked.remaining) == (False, 0)
