"""Model tokens on the execution's stream: a streamed answer's text, written to the run's log
in small batches (lines marked ``{"tokens": true}``, which the SSE stream sends as ``token``
events), so whoever watches the run sees the answer being written, whichever process runs
it."""

from __future__ import annotations

import asyncio
from typing import Final

from turbocat_core.agents.contract import LogFn
from turbocat_core.domain.execution import LogLevel

FLUSH_CHARS: Final = 64
FLUSH_SECONDS: Final = 0.2


class TokenLines:
    """Collects text pieces; writes them as one line every ``FLUSH_CHARS`` characters or
    ``FLUSH_SECONDS``, whichever comes first, and the rest at ``close``."""

    __slots__ = ("_buffer", "_last", "_log", "_turn")

    def __init__(self, log: LogFn, turn: int) -> None:
        self._log = log
        self._turn = turn
        self._buffer: list[str] = []
        self._last = asyncio.get_running_loop().time()

    async def __call__(self, text: str) -> None:
        self._buffer.append(text)
        now = asyncio.get_running_loop().time()
        if sum(map(len, self._buffer)) >= FLUSH_CHARS or now - self._last >= FLUSH_SECONDS:
            await self._flush(now)

    async def close(self) -> None:
        await self._flush(asyncio.get_running_loop().time())

    async def _flush(self, now: float) -> None:
        if not self._buffer:
            return
        text, self._buffer, self._last = "".join(self._buffer), [], now
        await self._log(LogLevel.DEBUG, text, {"tokens": True, "turn": self._turn})
