"""The engine's own overhead per step, on the in-memory adapters.

Runs a 1,000-step chain (each step reads the previous one's output) and a 1,000-wide
fan-out of no-op DATA steps, and prints (wall time - time inside the DATA agent) / steps.
That overhead includes validation, scheduling, reference resolution, two durable step
transitions and their log lines per step, and the counters. Each shape runs with the
Prometheus metrics on (as served) and off (``TURBOCAT_METRICS=false``), alternately, and the
difference is printed per step, next to the observer's own cost per attempt measured alone.

    python benchmarks/engine.py [--steps 1000] [--repeat 5]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python benchmarks/<name>.py`: the repository, not this folder, leads sys.path
# (benchmarks/queue.py would otherwise hide the standard library's `queue`).
sys.path[0:1] = [str(Path(__file__).resolve().parents[1])]

import argparse
import asyncio
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dependency_injector import providers

from turbocat_adapters.container import Container
from turbocat_adapters.settings import Settings
from turbocat_core.agents.contract import AgentExecutors, RunContext
from turbocat_core.agents.data_agent import DataAgent
from turbocat_core.domain.access import Actor
from turbocat_core.domain.agent import Agent, AgentStatus, AgentType
from turbocat_core.domain.common import AgentId, StepId, WorkflowId
from turbocat_core.domain.execution import ExecutionStatus
from turbocat_core.domain.user import LOCAL_OWNER_ID, UserRole
from turbocat_core.domain.workflow import StepType, Workflow, WorkflowStatus, WorkflowStep


class Timed:
    """An executor that also adds up the time spent inside it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0

    def check_config(self, config: dict[str, Any]) -> None:
        self.inner.check_config(config)

    async def execute(
        self, agent: Agent, config: dict[str, Any], inputs: dict[str, Any], ctx: RunContext
    ) -> Any:
        began = time.perf_counter()
        try:
            return await self.inner.execute(agent, config, inputs, ctx)
        finally:
            self.seconds += time.perf_counter() - began


class TimedDataAgent(Timed):
    """The real DATA agent, timing the work done inside it."""

    def __init__(self) -> None:
        super().__init__(DataAgent())


class NoQueue:
    """Runs nothing on enqueue: the benchmark calls ``engine.run`` itself, to time just that."""

    async def enqueue_execution(self, execution_id: Any, *, at: Any = None) -> None:
        return None


def bench_container(
    executors: AgentExecutors,
    database_url: str = "memory://",
    data_dir: Path | None = None,
    *,
    metrics: bool = True,
) -> Container:
    """The runtime every process builds (the container), with only ``executors`` and a queue
    that runs nothing: ``container.engine()`` and ``container.start_execution()`` as served."""
    settings = Settings(
        database_url=database_url, data_dir=data_dir or Path(".turbocat"), metrics=metrics
    )
    container = Container(settings=providers.Object(settings))
    container.executors.override(providers.Object(executors))
    container.queue.override(providers.Object(NoQueue()))
    return container


@dataclass
class Result:
    shape: str
    steps: int
    wall: float
    work: float
    cpu: float = 0.0
    """CPU seconds of the process during the run (steadier than wall time under load)."""

    @property
    def overhead_us(self) -> float:
        return (self.wall - self.work) / self.steps * 1e6


async def one_run(shape: str, steps: int, profiler: Any = None, *, metrics: bool = True) -> Result:
    data = TimedDataAgent()
    container = bench_container(AgentExecutors({AgentType.DATA: data}), metrics=metrics)
    store, clock, ids = container.store(), container.clock(), container.ids()
    engine = container.engine()
    owner = LOCAL_OWNER_ID  # in every store from the start
    now = clock.now()
    agent = Agent(
        id=AgentId(ids.new_id()),
        created_at=now,
        updated_at=now,
        user_id=owner,
        name="noop",
        type=AgentType.DATA,
        status=AgentStatus.ACTIVE,
        config={"operation": "pick", "fields": ["n"]},
    )
    workflow = Workflow(
        id=WorkflowId(ids.new_id()),
        created_at=now,
        updated_at=now,
        user_id=owner,
        name=f"{shape} of {steps}",
        status=WorkflowStatus.ACTIVE,
        max_concurrency=steps if shape == "fan-out" else 8,
    )
    plan = []
    for i in range(steps):
        chained = shape == "chain" and i > 0
        plan.append(
            WorkflowStep(
                id=StepId(ids.new_id()),
                created_at=now,
                updated_at=now,
                workflow_id=workflow.id,
                step_key=f"s{i}",
                step_name=f"s{i}",
                step_type=StepType.AGENT,
                agent_id=agent.id,
                position=i,
                depends_on=(f"s{i - 1}",) if chained else (),
                inputs={"data": f"{{{{s{i - 1}.output}}}}" if chained else {"n": i}},
            )
        )
    async with store.unit_of_work() as uow:
        await uow.agents.add(agent)
        await uow.workflows.add(workflow)
        for step in plan:
            await uow.steps.add(step)
        await uow.commit()
    start = container.start_execution()
    execution = await start(Actor(user_id=owner, role=UserRole.USER), workflow.id)
    if profiler is not None:
        profiler.enable()
    began, cpu = time.perf_counter(), time.process_time()
    finished = await engine.run(execution.id)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    if profiler is not None:
        profiler.disable()
    assert finished.status is ExecutionStatus.COMPLETED, finished.error_message
    assert finished.steps_completed == steps
    return Result(shape, steps, wall, data.seconds, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"engine overhead per step, in-memory adapters, {args.repeat} runs each "
        f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs)"
    )
    for shape in ("chain", "fan-out"):
        runs: dict[bool, list[Result]] = {True: [], False: []}
        for _ in range(args.repeat):  # alternately, so the load shifts both alike
            for metrics in (True, False):
                runs[metrics].append(asyncio.run(one_run(shape, args.steps, metrics=metrics)))
        for metrics in (True, False):
            results = runs[metrics]
            overheads = sorted(r.overhead_us for r in results)
            walls = [r.wall * 1000 for r in results]
            works = [r.work / r.steps * 1e6 for r in results]
            print(
                f"  {shape:8} {args.steps} steps, metrics {'on ' if metrics else 'off'}: "
                f"overhead median {statistics.median(overheads):6.1f} µs/step "
                f"(best {overheads[0]:.1f}, worst {overheads[-1]:.1f}); wall median "
                f"{statistics.median(walls):.0f} ms; DATA work "
                f"{statistics.median(works):.1f} µs/step"
            )
        on = statistics.median(r.overhead_us for r in runs[True])
        off = statistics.median(r.overhead_us for r in runs[False])
        cpu_on, cpu_off = (
            statistics.median(r.cpu / r.steps * 1e6 for r in runs[flag]) for flag in (True, False)
        )
        print(
            f"  {shape:8} metrics on - off: overhead {on - off:+.2f} µs/step (wall, noisy); "
            f"CPU {cpu_on:.1f} vs {cpu_off:.1f} µs/step ({cpu_on - cpu_off:+.2f})"
        )
    print(
        f"  the Prometheus observer alone, per step attempt: {observer_cost_us():.2f} µs "
        "(target: under 5 µs per step)"
    )


def observer_cost_us(attempts: int = 200_000) -> float:
    """What the engine's calls to the Prometheus observer cost per step: an attempt begun
    and ended (its counter, its duration histogram), in CPU time, minus the no-op
    observer's same calls."""
    from turbocat_adapters.metrics.prometheus import PrometheusObserver
    from turbocat_core.engine.observer import NO_OBSERVER

    def per_attempt(observer: Any) -> float:
        scope = observer.processing(None)
        began = time.process_time()
        for i in range(attempts):
            scope.attempt("s", "AGENT", "DATA", i).ended("completed")
        seconds = time.process_time() - began
        scope.ended()
        return seconds / attempts * 1e6

    costs = [per_attempt(PrometheusObserver()) - per_attempt(NO_OBSERVER) for _ in range(5)]
    return min(costs)  # CPU time, the least disturbed of five


if __name__ == "__main__":
    main()
