"""The engine's overhead per conversation turn of a tool-calling LLM agent.

One AGENT step runs an LLM agent whose (in-process, timed) model asks for one tool call per
turn for ``--turns`` turns, then answers; the tool is the real DATA agent. Each turn journals
the model's response (the step run's state and a log line) and the tool's result, as in
production. Printed: (wall time - time inside the model and the tool) / turns, on the
in-memory store and on PostgreSQL (a throwaway database).

    python benchmarks/agents.py [--turns 50] [--repeat 5] [--stores memory,postgres]

PostgreSQL from TURBOCAT_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/postgres).
Target: under 2 ms per turn on PostgreSQL.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python benchmarks/<name>.py`: the repository, not this folder, leads sys.path.
sys.path[0:1] = [str(Path(__file__).resolve().parents[1])]

import argparse
import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from benchmarks.engine import TimedDataAgent, bench_container
from tests.databases import temporary_database

from turbocat_adapters.json_schemas import JsonSchemaChecks
from turbocat_core.agents.contract import AgentExecutors
from turbocat_core.agents.llm_agent import LlmAgent
from turbocat_core.domain.access import Actor
from turbocat_core.domain.agent import Agent, AgentStatus, AgentType
from turbocat_core.domain.common import AgentId, StepId, WorkflowId
from turbocat_core.domain.execution import ExecutionStatus
from turbocat_core.domain.user import LOCAL_OWNER_ID, UserRole
from turbocat_core.domain.workflow import StepType, Workflow, WorkflowStatus, WorkflowStep
from turbocat_core.ports import LlmRequest, LlmResponse, ToolCall


class ScriptedModel:
    """An ``LlmClient`` in process: one tool call per turn until ``turns``, then an answer;
    the time spent inside it is added up (it is the model's, not the engine's)."""

    def __init__(self, turns: int) -> None:
        self.turns = turns
        self.calls = 0
        self.seconds = 0.0

    async def complete(
        self, request: LlmRequest, on_text: Callable[[str], Awaitable[None]] | None = None
    ) -> LlmResponse:
        began = time.perf_counter()
        self.calls += 1
        asked = self.calls < self.turns
        calls = (ToolCall(f"call_{self.calls}", "pick", f'{{"data": {{"n": {self.calls}}}}}'),)
        response = LlmResponse(
            text="" if asked else "done",
            model="bench-model",
            finish_reason="tool_calls" if asked else "stop",
            prompt_tokens=100,
            completion_tokens=10,
            tool_calls=calls if asked else (),
        )
        self.seconds += time.perf_counter() - began
        return response


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "memory":
        yield "memory://"
        return
    with temporary_database("turbocat_bench_agents") as dsn:
        yield dsn


async def one_run(database_url: str, turns: int) -> tuple[float, float, float, float]:
    """(wall, model seconds, tool seconds, process CPU) of one conversation of ``turns``
    turns."""
    model = ScriptedModel(turns)
    tool = TimedDataAgent()
    llm = LlmAgent(model, server_env={}, schemas=JsonSchemaChecks())
    executors = AgentExecutors({AgentType.DATA: tool, AgentType.LLM: llm})
    container = bench_container(executors, database_url)
    store = container.store()
    with contextlib.suppress(AttributeError):
        await store.open()  # type: ignore[attr-defined]
    with contextlib.suppress(AttributeError):
        await store.migrate()  # type: ignore[attr-defined]
    try:
        clock, ids = container.clock(), container.ids()
        now = clock.now()
        owner = LOCAL_OWNER_ID

        def agent(name: str, kind: AgentType, config: dict[str, Any]) -> Agent:
            return Agent(
                id=AgentId(ids.new_id()),
                created_at=now,
                updated_at=now,
                user_id=owner,
                name=name,
                type=kind,
                status=AgentStatus.ACTIVE,
                config=config,
            )

        pick = agent("pick", AgentType.DATA, {"operation": "pick", "fields": ["n"]})
        ask = agent(
            "ask",
            AgentType.LLM,
            {
                "provider": "openai-compatible",
                "baseUrl": "http://model.invalid/v1",
                "model": "bench",
                "prompt": "Count.",
                "tools": [{"agentId": str(pick.id)}],
                "maxTurns": turns,
            },
        )
        workflow = Workflow(
            id=WorkflowId(ids.new_id()),
            created_at=now,
            updated_at=now,
            user_id=owner,
            name="conversation",
            status=WorkflowStatus.ACTIVE,
        )
        step = WorkflowStep(
            id=StepId(ids.new_id()),
            created_at=now,
            updated_at=now,
            workflow_id=workflow.id,
            step_key="ask",
            step_name="ask",
            step_type=StepType.AGENT,
            agent_id=ask.id,
        )
        async with store.unit_of_work() as uow:
            await uow.agents.add(pick)
            await uow.agents.add(ask)
            await uow.workflows.add(workflow)
            await uow.steps.add(step)
            await uow.commit()
        execution = await container.start_execution()(
            Actor(user_id=owner, role=UserRole.USER), workflow.id
        )
        began, cpu = time.perf_counter(), time.process_time()
        finished = await container.engine().run(execution.id)
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
        assert finished.status is ExecutionStatus.COMPLETED, finished.error_message
        assert model.calls == turns
        return wall, model.seconds, tool.seconds, cpu
    finally:
        with contextlib.suppress(AttributeError):
            await store.close()  # type: ignore[attr-defined]


def commit_ms(dsn: str, count: int = 100) -> float:
    """What one small committed UPDATE costs on the server (its fsync): a turn's floor."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_commit (id int PRIMARY KEY, n int)")
        conn.execute("INSERT INTO bench_commit VALUES (1, 0)")
        began = time.perf_counter()
        for n in range(count):
            with conn.transaction():
                conn.execute("UPDATE bench_commit SET n = %s WHERE id = 1", (n,))
        return (time.perf_counter() - began) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--stores", default="memory,postgres")
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"engine overhead per conversation turn, {args.turns} turns (one tool call each), "
        f"{args.repeat} runs (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"{os.cpu_count()} CPUs)"
    )
    for kind in args.stores.split(","):
        with database(kind) as url:
            floor = commit_ms(url) if kind == "postgres" else None
            overheads, cpus = [], []
            for _ in range(args.repeat):
                wall, model, tool, cpu = asyncio.run(one_run(url, args.turns))
                overheads.append((wall - model - tool) / args.turns * 1000)
                cpus.append((cpu - model - tool) / args.turns * 1000)
        overheads.sort()
        print(
            f"  {kind:8}: median {statistics.median(overheads):.3f} ms/turn "
            f"(best {overheads[0]:.3f}, worst {overheads[-1]:.3f}); this process's CPU "
            f"{statistics.median(cpus):.3f} ms/turn"
            + ("; target under 2 ms" if kind == "postgres" else "")
        )
        if floor is not None:
            print(f"    one small logged commit on this server: {floor:.3f} ms (a turn makes 2)")


if __name__ == "__main__":
    main()
