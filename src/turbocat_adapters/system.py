"""Real time, time-ordered UUIDv7 ids and operating-system randomness."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import struct
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID, SafeUUID

from turbocat_core import ports

_COUNTER_MAX = 0xFFF
_RAND_B_MASK = (1 << 62) - 1
_BUFFER_IDS = 256
_VERSION_BITS = 0x7 << 76
_VARIANT_BITS = 0b10 << 62
_UNKNOWN = SafeUUID.unknown
_time_ns = time.time_ns
_unpack_pool = struct.Struct(f">{_BUFFER_IDS}Q").unpack  # 64 random bits each
_new_object = object.__new__
# UUID's own slots, written through their descriptors (UUID.__setattr__ refuses writes).
_set_int = UUID.__dict__["int"].__set__
_set_is_safe = UUID.__dict__["is_safe"].__set__


class SystemClock:
    """Wall time in UTC, ``time.monotonic`` for durations and ``asyncio.sleep``."""

    __slots__ = ()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, seconds: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(seconds, callback)

    def timeout(self, seconds: float) -> asyncio.Timeout:
        return asyncio.timeout(seconds)


class UuidV7Generator:
    """RFC 9562 UUIDv7: 48 bits of Unix milliseconds, then randomness; increasing per process.

    Within one millisecond the 12-bit ``rand_a`` field is a counter (started at a random
    value below 2048, so there is room to count); if it overflows, the timestamp is moved
    one millisecond ahead. A clock that steps back is ignored until it catches up. The 62
    bits of ``rand_b`` come from ``os.urandom`` (read in batches, as that is a system call).
    ``unix_ms`` replaces the clock (tests); by default ``time.time_ns`` is read directly.
    """

    def __init__(self, unix_ms: Callable[[], int] | None = None) -> None:
        self._unix_ms = unix_ms
        self._last_ms = -1
        self._counter = 0
        self._pool: list[int] = []
        self._lock = threading.Lock()

    def new_id(self) -> UUID:
        with self._lock:
            ms = _time_ns() // 1_000_000 if self._unix_ms is None else self._unix_ms()
            pool = self._pool
            if not pool:
                pool.extend(_unpack_pool(os.urandom(8 * _BUFFER_IDS)))
            if ms > self._last_ms:
                self._last_ms = ms
                counter = self._counter = pool.pop() & 0x7FF
                if not pool:
                    pool.extend(_unpack_pool(os.urandom(8 * _BUFFER_IDS)))
            else:
                counter = self._counter = self._counter + 1
                if counter > _COUNTER_MAX:
                    self._last_ms += 1
                    counter = self._counter = pool.pop() & 0x7FF
                    if not pool:
                        pool.extend(_unpack_pool(os.urandom(8 * _BUFFER_IDS)))
            value = (
                (self._last_ms & 0xFFFF_FFFF_FFFF) << 80
                | _VERSION_BITS
                | counter << 64
                | _VARIANT_BITS
                | pool.pop() & _RAND_B_MASK
            )
        # Built without UUID.__init__ (which re-validates): the value is well-formed by
        # construction and this runs several times per engine step.
        new = _new_object(UUID)
        _set_int(new, value)
        _set_is_safe(new, _UNKNOWN)
        return new


class SystemRandom:
    """``random()`` from the OS generator (for jitter) and ``secrets`` tokens."""

    __slots__ = ("_random",)

    def __init__(self) -> None:
        self._random = random.SystemRandom()

    def random(self) -> float:
        return self._random.random()

    def token(self, nbytes: int) -> str:
        return secrets.token_urlsafe(nbytes)


def _conforms(
    clock: SystemClock, ids: UuidV7Generator, rng: SystemRandom
) -> tuple[ports.Clock, ports.IdGenerator, ports.RandomSource]:
    """Never called: mypy checks here that the classes match their ports."""
    return clock, ids, rng
