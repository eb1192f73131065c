"""Retention: how long `turbocat prune` takes, and how long each batch holds its locks.

Loads N finished executions from 40 days ago (10 log lines and 2 step runs each, by
default) next to as many recent ones that stay, then prunes with a 30-day cutoff in
batches, through the same use case the command runs:

    python benchmarks/retention.py [--stores postgres,sqlite] [--executions 10000]
                                   [--logs 10] [--kept 10000] [--batch-size 500]

PostgreSQL runs in a throwaway database on the server of TURBOCAT_TEST_POSTGRES (default
postgresql://postgres@127.0.0.1:5432/postgres); SQLite in a temporary directory.
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
from datetime import timedelta

from benchmarks.storage import clock, ids, open_store, owner_and_workflow, rate

from turbocat_adapters.store_contract import Store
from turbocat_core.domain.execution import (
    Execution,
    ExecutionLog,
    ExecutionStatus,
    LogLevel,
    StepRun,
    StepStatus,
)
from turbocat_core.domain.user import User
from turbocat_core.domain.workflow import Workflow
from turbocat_core.usecases.retention import PruneExecutions, PruneReport

CHUNK = 250  # executions loaded per transaction


async def load(
    store: Store, user: User, workflow: Workflow, count: int, lines: int, *, age_days: int
) -> None:
    for start in range(0, count, CHUNK):
        async with store.unit_of_work() as uow:
            for n in range(start, min(count, start + CHUNK)):
                ended = clock.now() - timedelta(days=age_days, seconds=n)
                execution = Execution(
                    id=ids.new_id(),
                    created_at=ended - timedelta(seconds=5),
                    updated_at=ended,
                    workflow_id=workflow.id,
                    user_id=user.id,
                    status=ExecutionStatus.COMPLETED,
                    started_at=ended - timedelta(seconds=5),
                    completed_at=ended,
                    duration_ms=5000.0,
                    input_data={"n": n},
                    output_data={"a": {"rows": n}, "b": "done"},
                )
                await uow.executions.add(execution)
                await uow.logs.append(
                    [
                        ExecutionLog(
                            id=ids.new_id(),
                            created_at=ended,
                            updated_at=ended,
                            execution_id=execution.id,
                            level=LogLevel.INFO,
                            message=f"step {i} completed",
                            metadata={"i": i},
                        )
                        for i in range(lines)
                    ]
                )
                for key in ("a", "b"):
                    await uow.step_runs.save(
                        StepRun(
                            id=ids.new_id(),
                            created_at=ended,
                            updated_at=ended,
                            execution_id=execution.id,
                            step_key=key,
                            step_id=None,
                            status=StepStatus.COMPLETED,
                            attempt=1,
                            output={"rows": n},
                        )
                    )
            await uow.commit()


async def bench(kind: str, args: argparse.Namespace) -> None:
    async with open_store(kind) as store:
        user, workflow = await owner_and_workflow(store)
        began = time.perf_counter()
        await load(store, user, workflow, args.executions, args.logs, age_days=40)
        await load(store, user, workflow, args.kept, args.logs, age_days=1)
        loaded = time.perf_counter() - began
        total = args.executions + args.kept
        print(
            f"  {kind}: loaded {total:,} executions ({total * args.logs:,} log lines) "
            f"in {loaded:.1f} s"
        )
        batches: list[float] = []
        last = time.perf_counter()

        def timed(_report: PruneReport) -> None:
            nonlocal last
            now = time.perf_counter()
            batches.append((now - last) * 1000)
            last = now

        prune = PruneExecutions(uow=store.unit_of_work, clock=clock)
        began = last = time.perf_counter()
        report = await prune(days=30, batch_size=args.batch_size, on_batch=timed)
        took = time.perf_counter() - began
        assert report.executions == args.executions, report
        assert report.logs == args.executions * args.logs, report
        print(
            f"    pruned {report.executions:,} executions ({report.logs:,} log lines, "
            f"{report.step_runs:,} step runs) in {took:.2f} s: {rate(report.executions, took)} "
            f"executions, {rate(report.logs, took)} log lines"
        )
        print(
            f"    {report.batches} batches of {args.batch_size}: "
            f"p50 {statistics.median(batches):.0f} ms, max {max(batches):.0f} ms each"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="postgres,sqlite")
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--logs", type=int, default=10)
    parser.add_argument("--kept", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    load_average = os.getloadavg()
    print(
        f"retention (load average {load_average[0]:.2f} {load_average[1]:.2f} "
        f"{load_average[2]:.2f}, {os.cpu_count()} CPUs)"
    )
    for kind in args.stores.split(","):
        asyncio.run(bench(kind.strip(), args))


if __name__ == "__main__":
    main()
