"""The DATA agent's executor: the pure operations of ``agents.data`` behind the contract."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from turbocat_core.agents.contract import RunContext
from turbocat_core.agents.data import run_data, validate_data_config
from turbocat_core.agents.failures import AgentFailure
from turbocat_core.domain.agent import Agent
from turbocat_core.domain.common import JsonObject
from turbocat_core.engine.refs import DEFAULT_MAX_RESOLVED_BYTES

INLINE_ITEMS = 1000


class DataAgent:
    """Runs DATA agents over the step input ``data``.

    Small inputs run inline (a thread hop costs more than the work); lists longer than
    ``inline_items`` run on a worker thread so a big transform never stalls the event loop.
    A ``transform`` fills its template in within ``max_resolved_bytes`` (the engine's
    ``max_resolved_input_bytes``), so a template repeating a big item fails early.
    """

    def __init__(
        self, inline_items: int = INLINE_ITEMS, max_resolved_bytes: int = DEFAULT_MAX_RESOLVED_BYTES
    ) -> None:
        self.inline_items = inline_items
        self.max_resolved_bytes = max_resolved_bytes

    def check_config(self, config: JsonObject) -> None:
        validate_data_config(config)

    async def execute(
        self, agent: Agent, config: JsonObject, inputs: JsonObject, ctx: RunContext
    ) -> Any:
        if "data" not in inputs:
            raise AgentFailure(
                f"DATA agent {agent.name!r} needs an input named 'data'", retryable=False
            )
        data = inputs["data"]
        run = functools.partial(run_data, max_resolved_bytes=self.max_resolved_bytes)
        if isinstance(data, list) and len(data) > self.inline_items:
            return await asyncio.to_thread(run, config, data)
        return run(config, data)
