"""The system adapters and the manual clock: time, UUIDv7 ids, randomness."""

from __future__ import annotations

import asyncio
import itertools
import string
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from turbocat_adapters.memory import ManualClock
from turbocat_adapters.system import SystemClock, SystemRandom, UuidV7Generator

T0 = datetime(2026, 1, 1, tzinfo=UTC)


# --- ManualClock ---------------------------------------------------------------------------


async def test_manual_clock_moves_only_when_told():
    clock = ManualClock(T0)
    start = clock.monotonic()
    assert clock.now() == T0
    clock.advance(1.5)
    assert clock.now() == T0 + timedelta(seconds=1.5)
    assert clock.monotonic() == pytest.approx(start + 1.5)
    clock.advance(-10)  # time never runs back
    assert clock.now() == T0 + timedelta(seconds=1.5)


async def test_manual_clock_sleep_advances_records_and_yields_once():
    clock = ManualClock(T0)
    seen: list[datetime] = []

    async def other() -> None:
        seen.append(clock.now())

    task = asyncio.create_task(other())
    await clock.sleep(30)
    assert clock.sleeps == [30]
    assert clock.now() == T0 + timedelta(seconds=30)
    assert task.done()  # it ran while we "slept"
    assert seen == [T0 + timedelta(seconds=30)]


def test_manual_clock_needs_an_aware_start():
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2026, 1, 1))


# --- SystemClock ---------------------------------------------------------------------------


async def test_system_clock_reads_real_time():
    clock = SystemClock()
    now = clock.now()
    assert now.tzinfo is UTC
    assert abs((now - datetime.now(UTC)).total_seconds()) < 5
    before = clock.monotonic()
    await clock.sleep(0.001)
    assert clock.monotonic() > before


# --- UuidV7Generator -----------------------------------------------------------------------


def _unix_ms(value: uuid.UUID) -> int:
    return value.int >> 80


def test_ids_are_version_7_with_the_rfc_variant_and_the_current_time():
    before = time.time_ns() // 1_000_000
    value = UuidV7Generator().new_id()
    after = time.time_ns() // 1_000_000
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= _unix_ms(value) <= after


def test_ids_increase_within_a_process():
    ids = UuidV7Generator()
    values = [ids.new_id() for _ in range(20_000)]
    assert all(a.int < b.int for a, b in itertools.pairwise(values))
    assert all(a.bytes < b.bytes for a, b in itertools.pairwise(values))  # index order


def test_a_stopped_clock_counts_then_moves_the_timestamp_ahead():
    ids = UuidV7Generator(unix_ms=lambda: 1_000)
    values = [ids.new_id() for _ in range(10_000)]
    assert all(a.int < b.int for a, b in itertools.pairwise(values))
    assert _unix_ms(values[0]) == 1_000
    assert _unix_ms(values[-1]) > 1_000  # the 12-bit counter overflowed at least once
    assert all(v.version == 7 and v.variant == uuid.RFC_4122 for v in values)


def test_a_clock_stepping_back_does_not_break_the_order():
    readings = iter([5_000, 5_000, 4_000, 4_000, 6_000])
    ids = UuidV7Generator(unix_ms=lambda: next(readings))
    values = [ids.new_id() for _ in range(5)]
    assert all(a.int < b.int for a, b in itertools.pairwise(values))
    assert [_unix_ms(v) for v in values] == [5_000, 5_000, 5_000, 5_000, 6_000]


# --- SystemRandom --------------------------------------------------------------------------


def test_system_random_gives_floats_and_url_safe_tokens():
    source = SystemRandom()
    values = [source.random() for _ in range(100)]
    assert all(0 <= v < 1 for v in values)
    assert len(set(values)) > 90
    token = source.token(32)
    assert len(token) == 43  # 32 bytes, base64 without padding
    assert set(token) <= set(string.ascii_letters + string.digits + "-_")
    assert source.token(32) != token
