"""The Claims port: one holder at a time, expiry, renewal, take-over of queue markers."""

from __future__ import annotations

import asyncio

import pytest


async def test_one_holder_at_a_time_until_released(claims):
    port, _ = claims
    assert await port.claim("job", "w1", 10)
    assert not await port.claim("job", "w2", 10)
    assert await port.claim("job", "w1", 10)  # its own: renewed
    assert await port.holders(["job", "other"]) == ["w1", None]
    await port.release("job", "w2")  # not theirs: nothing happens
    assert await port.holders(["job"]) == ["w1"]
    await port.release("job", "w1")
    assert await port.holders(["job"]) == [None]
    assert await port.claim("job", "w2", 10)


async def test_a_claim_lapses_unless_renewed(claims):
    port, let_pass = claims
    assert await port.claim("lease", "w1", 0.3)
    assert await port.claim("other", "w1", 0.3)
    await let_pass(0.15)
    assert await port.renew("lease", "w1", 0.3)
    await let_pass(0.2)  # 0.35 s after both began: only the renewed one is left
    assert await port.holders(["lease", "other"]) == ["w1", None]
    assert not await port.renew("other", "w1", 0.3)
    assert await port.claim("other", "w2", 0.3)
    await let_pass(0.4)
    assert await port.holders(["lease", "other"]) == [None, None]
    assert not await port.renew("lease", "w1", 0.3)  # lapsed: gone, not revived


async def test_a_holder_with_the_given_prefix_can_be_taken_over(claims):
    port, _ = claims
    assert await port.claim("run:1", "queue:job-a", 60)
    assert not await port.claim("run:1", "w1", 10)  # no over: a marker is a holder too
    assert await port.claim("run:1", "w1", 10, over="queue:")
    assert not await port.claim("run:1", "queue:job-b", 60, over="queue:")  # w1 runs it
    assert await port.holders(["run:1"]) == ["w1"]


async def test_of_many_racing_claimants_exactly_one_wins(claims):
    port, _ = claims
    won = await asyncio.gather(*(port.claim("tick", f"w{i}", 10) for i in range(30)))
    assert won.count(True) == 1


@pytest.mark.parametrize("names", [[], ["a"], ["a", "b", "c"]])
async def test_holders_answers_in_order(claims, names):
    port, _ = claims
    for name in names[:1]:
        await port.claim(name, "w9", 10)
    assert await port.holders(names) == ["w9", *[None] * (len(names) - 1)][: len(names)]
