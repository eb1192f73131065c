"""Real time, time-ordered UUIDv7 ids and operating-system randomness."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID, SafeUUID

from turbocat_core import ports

_COUNTER_MAX = 0xFFF
_RAND_B_MASK = (1 << 62) - 1
_BUFFER_IDS = 256
_new_object = object.__new__
_set_attribute = object.__setattr__


class SystemClock:
    """Wall time in UTC, ``time.monotonic`` for durations and ``asyncio.sleep``."""

    __slots__ = ()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _unix_ms() -> int:
    return time.time_ns() // 1_000_000


class UuidV7Generator:
    """RFC 9562 UUIDv7: 48 bits of Unix milliseconds, then randomness; increasing per process.

    Within one millisecond the 12-bit ``rand_a`` field is a counter (started at a random
    value below 2048, so there is room to count); if it overflows, the timestamp is moved
    one millisecond ahead. A clock that steps back is ignored until it catches up. The 62
    bits of ``rand_b`` come from ``os.urandom`` (read in batches, as that is a system call).
    """

    def __init__(self, unix_ms: Callable[[], int] = _unix_ms) -> None:
        self._unix_ms = unix_ms
        self._last_ms = -1
        self._counter = 0
        self._random = b""
        self._offset = 0
        self._lock = threading.Lock()

    def new_id(self) -> UUID:
        with self._lock:
            ms = self._unix_ms()
            if ms > self._last_ms:
                self._last_ms = ms
                self._counter = self._random_bits() & 0x7FF
            else:
                self._counter += 1
                if self._counter > _COUNTER_MAX:
                    self._last_ms += 1
                    self._counter = self._random_bits() & 0x7FF
            value = (
                (self._last_ms & 0xFFFF_FFFF_FFFF) << 80
                | 0x7 << 76
                | self._counter << 64
                | 0b10 << 62
                | self._random_bits() & _RAND_B_MASK
            )
        # Built without UUID.__init__ (which re-validates): the value is well-formed by
        # construction and this runs several times per engine step.
        new = _new_object(UUID)
        _set_attribute(new, "int", value)
        _set_attribute(new, "is_safe", SafeUUID.unknown)
        return new

    def _random_bits(self) -> int:
        """64 random bits."""
        offset = self._offset
        if offset + 8 > len(self._random):
            self._random = os.urandom(8 * _BUFFER_IDS)
            offset = 0
        self._offset = offset + 8
        return int.from_bytes(self._random[offset : offset + 8], "big")


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
