"""The test runtime: ``Turbocat`` in memory, on a clock whose time skips."""

from __future__ import annotations

import base64
import random
from datetime import datetime
from typing import Any

from dependency_injector import providers

from turbocat_adapters.embedding import Turbocat
from turbocat_adapters.settings import Settings
from turbocat_adapters.testing.clock import Mode, VirtualClock
from turbocat_core.agents.contract import AgentExecutor, AgentExecutors, RunContext
from turbocat_core.domain.agent import Agent, AgentType
from turbocat_core.domain.common import JsonObject


class TurbocatUnderTest(Turbocat):
    """What ``Turbocat.for_tests()`` returns: a ``Turbocat`` over ``memory://`` whose
    ``clock`` is a :class:`VirtualClock` (``tc.clock.advance(s)``, ``tc.clock.now()``) and
    whose randomness (retry jitter) comes from ``seed``, so a run repeats exactly."""

    clock: VirtualClock

    def __init__(
        self,
        *,
        time: Mode = "skip",
        start: datetime | None = None,
        seed: int = 0,
        **settings: Any,
    ) -> None:
        self.clock = VirtualClock(time, start=start)
        self._random = SeededRandom(seed)
        super().__init__("memory://", **settings)

    def _build(self, settings: Settings) -> None:
        super()._build(settings)
        container = self._container
        container.clock.override(providers.Object(self.clock))
        container.random.override(providers.Object(self._random))
        executors: AgentExecutors = container.executors()
        container.executors.override(providers.Object(executors.wrapped(self._watched)))

    def _watched(self, kind: AgentType, executor: AgentExecutor) -> AgentExecutor:
        # A WORKFLOW step waits for its child run, which waits on this clock like any run.
        return executor if kind is AgentType.WORKFLOW else _Busy(executor, self.clock)

    async def _close(self) -> None:
        try:
            await super()._close()
        finally:
            self.clock.close()


class _Busy:
    """An agent executor whose work holds the clock: time does not skip while it runs."""

    __slots__ = ("_clock", "_executor")

    def __init__(self, executor: AgentExecutor, clock: VirtualClock) -> None:
        self._executor = executor
        self._clock = clock

    def check_config(self, config: JsonObject) -> None:
        self._executor.check_config(config)

    async def execute(
        self, agent: Agent, config: JsonObject, inputs: JsonObject, ctx: RunContext
    ) -> Any:
        with self._clock.busy():
            return await self._executor.execute(agent, config, inputs, ctx)


class SeededRandom:
    """The ``RandomSource`` of a test runtime: ``random.Random(seed)``, tokens included."""

    __slots__ = ("_random",)

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def random(self) -> float:
        return self._random.random()

    def token(self, nbytes: int) -> str:
        return base64.urlsafe_b64encode(self._random.randbytes(nbytes)).rstrip(b"=").decode()
