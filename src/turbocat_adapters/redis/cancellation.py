"""Cancellation requests through Redis: a flag per execution that running processes poll."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from turbocat_adapters.redis.client import Keys, translated
from turbocat_core import ports
from turbocat_core.domain.common import ExecutionId

logger = logging.getLogger("turbocat.cancellation")

POLL_SECONDS: Final = 0.2
"""How often a running execution looks for a request (cancellation lands within ~0.2 s)."""
FLAG_TTL_SECONDS: Final = 24 * 3600
"""A request outlives any run that could still pick it up; the database says CANCELLED
for good anyway (the engine's final write checks the status)."""


class RedisCancellation:
    """``ports.CancellationSignal`` across processes: ``request`` sets a flag any process
    may read; ``wait`` polls it (one ``EXISTS`` per running execution every 0.2 s). A Redis
    that is briefly unreachable delays cancellation, it never fails a run."""

    def __init__(self, client: Redis, keys: Keys, *, poll: float = POLL_SECONDS) -> None:
        self._client = client
        self._keys = keys
        self._poll = poll
        self._local: dict[ExecutionId, asyncio.Event] = {}

    def _key(self, execution_id: ExecutionId) -> str:
        return self._keys("cancel", str(execution_id))

    def _event(self, execution_id: ExecutionId) -> asyncio.Event:
        event = self._local.get(execution_id)
        if event is None:
            event = self._local[execution_id] = asyncio.Event()
        return event

    async def request(self, execution_id: ExecutionId) -> None:
        self._event(execution_id).set()  # this process at once, others within a poll
        with translated():
            await self._client.set(self._key(execution_id), "1", ex=FLAG_TTL_SECONDS)

    async def wait(self, execution_id: ExecutionId) -> None:
        event = self._event(execution_id)
        key = self._key(execution_id)
        while not event.is_set():
            try:
                if await self._client.exists(key):
                    event.set()
                    return
            except RedisError as error:
                logger.warning("cancellation: Redis unreachable (%s); polling on", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), self._poll)

    def forget(self, execution_id: ExecutionId) -> None:
        self._local.pop(execution_id, None)


def _conforms(cancellation: RedisCancellation) -> ports.CancellationSignal:
    """Never called: mypy checks here that the class matches its port."""
    return cancellation
