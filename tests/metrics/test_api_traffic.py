"""The API's figures in ``GET /analytics/system-health``: requests per minute, p50/p95/p99
and error rates over the last 5 and 60 minutes, over a known mix of requests, kept in this
process or, with Redis, for every server of the deployment; no data reads as no data."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest

from tests.databases import REDIS_URL
from tests.http.conftest import API
from tests.http.probe import raising_router
from tests.http.resources import Api, Person, make_api
from turbocat_adapters.memory.api_usage import MemoryApiUsage
from turbocat_core.domain.api_traffic import LATENCY_BOUNDS_MS, MinuteCounts, percentile, traffic


async def health(api: Api, admin: Person) -> dict[int, dict[str, Any]]:
    response = await api.client.get(f"{API}/analytics/system-health", headers=admin.headers)
    assert response.status_code == 200, response.text
    return {window["minutes"]: window for window in response.json()["data"]["api"]}


def errors(window: dict[str, Any]) -> tuple[int, int]:
    """(5xx, 4xx) answers in a window, from its rates."""
    total = window["requests"]
    return round(window["errorRate"] * total), round(window["clientErrorRate"] * total)


async def known_mix(api: Api, who: Person) -> None:
    """10 API requests: 6 answered 200, 3 answered 500, 1 answered 404; and requests
    outside the API (health probes, metrics), which do not count."""
    for _ in range(6):
        assert (await api.client.get(f"{API}/agents", headers=who.headers)).status_code == 200
    for _ in range(3):
        assert (await api.client.get(f"{API}/probe/raise/crash")).status_code == 500
    assert (await api.client.get(f"{API}/probe/raise/not-found")).status_code == 404
    for path in ("/health/live", "/metrics", "/nowhere"):
        await api.client.get(path)


def assert_moved(before: dict[str, Any], after: dict[str, Any], requests: int) -> None:
    assert after["requests"] - before["requests"] == requests
    fives, fours = errors(after)
    old_fives, old_fours = errors(before)
    assert (fives - old_fives, fours - old_fours) == (3, 1)
    assert after["requestsPerMinute"] == round(after["requests"] / after["minutes"], 3)
    assert after["note"] is None
    assert 0 < after["p50Ms"] <= after["p95Ms"] <= after["p99Ms"] <= LATENCY_BOUNDS_MS[-1]


async def test_a_known_mix_of_requests_in_this_process():
    async with make_api("memory", routers=(raising_router,)) as api:
        admin = await api.admin()
        before = await health(api, admin)
        await known_mix(api, admin)
        after = await health(api, admin)
        for minutes in (5, 60):
            # The 10 of the mix and the first system-health request itself.
            assert_moved(before[minutes], after[minutes], 11)


async def test_with_redis_the_figures_are_the_whole_deployments(redis_keys):
    """Two apps (two servers' worth, sharing only Redis): each one's figures count both."""
    fleet = {"redis_url": REDIS_URL, "redis_prefix": redis_keys, "routers": (raising_router,)}
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(make_api("memory", **fleet))
        second = await stack.enter_async_context(make_api("memory", **fleet))
        admin, other = await first.admin(), await second.admin()
        for app in (first, second):  # what setting up counted is in Redis now
            app.in_app(app.container.api_usage().flush)
        before = await health(first, admin)
        await known_mix(second, other)
        # The second app flushes its counts to Redis every second: poll for them.
        polls, deadline = 0, time.monotonic() + 30
        while True:
            after = await health(first, admin)
            polls += 1
            if errors(after[5]) != errors(before[5]) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        for minutes in (5, 60):
            # The mix, the first read and the polls before the last (each counts once it
            # has been answered).
            assert_moved(before[minutes], after[minutes], 10 + 1 + polls - 1)
        # Both apps read the same figures.
        assert (await health(second, other))[60]["requests"] >= after[60]["requests"]


async def test_no_request_in_a_window_reads_as_no_data():
    now = [600_000.0]
    usage = MemoryApiUsage(now=lambda: now[0])
    usage.record(200, 0.003)
    assert traffic(await usage.last_minutes(5), 5).requests == 1
    now[0] += 61 * 60  # an hour and a minute later
    for minutes in (5, 60):
        quiet = traffic(await usage.last_minutes(minutes), minutes)
        assert quiet.requests == 0 and quiet.requests_per_minute == 0
        assert (quiet.p50_ms, quiet.p95_ms, quiet.p99_ms) == (None, None, None)
        assert (quiet.error_rate, quiet.client_error_rate) == (None, None)
        assert quiet.note == f"no API request in the last {minutes} minutes"


@pytest.mark.parametrize(
    ("bucket_counts", "q", "expected"),
    [
        ({1: 100}, 0.5, 7.5),  # all in (5, 10] ms: halfway through it
        ({0: 50, 3: 50}, 0.5, 5.0),  # the rank falls at the end of the first bucket
        ({0: 50, 3: 50}, 0.99, 25 + 25 * 49 / 50),
        ({11: 10}, 0.5, 10000.0),  # slower than the last bound: at least that
    ],
)
def test_percentiles_come_from_the_buckets(bucket_counts, q, expected):
    counts = MinuteCounts()
    for index, count in bucket_counts.items():
        counts.buckets[index] = count
    assert percentile(counts.buckets, q) == pytest.approx(expected)
