"""Storage throughput and latency on SQLite and PostgreSQL, with `pgbench -S` as the ceiling.

For each store, from one client (one coroutine, as `pgbench -c 1`):
  - executions: inserts/s (one transaction each) and point reads/s (`get`);
  - logs: lines/s appended in transactions of 10, and reads/s of one execution's page;
  - agents: p50/p99 of a filtered, sorted, paginated list over N rows (100k by default).

    python benchmarks/storage.py [--stores sqlite,postgres] [--agents 100000] [--ops 2000]

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
import contextlib
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from tests.databases import temporary_database

from turbocat_adapters.store_contract import Store
from turbocat_adapters.system import SystemClock, UuidV7Generator
from turbocat_core.domain.agent import AGENT_QUERY, Agent, AgentStatus, AgentType
from turbocat_core.domain.common import ListQuery
from turbocat_core.domain.execution import Execution, ExecutionLog, LogLevel, LogQuery
from turbocat_core.domain.user import User
from turbocat_core.domain.workflow import Workflow

clock, ids = SystemClock(), UuidV7Generator()


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>9,.0f}/s"


@contextlib.asynccontextmanager
async def open_store(kind: str) -> AsyncIterator[Store]:
    if kind == "sqlite":
        from turbocat_adapters.sqlite import SqliteStore

        folder = Path(tempfile.mkdtemp(prefix="turbocat-bench-"))
        store: Store = SqliteStore(folder / "bench.db")
        try:
            await store.open()
            yield store
        finally:
            await store.close()
            shutil.rmtree(folder, ignore_errors=True)
        return
    from turbocat_adapters.postgres import PostgresStore

    with temporary_database("turbocat_bench") as dsn:
        store = PostgresStore(dsn, min_size=1, max_size=4)
        await store.open()
        try:
            await store.migrate()
            yield store
        finally:
            await store.close()


async def owner_and_workflow(store: Store) -> tuple[User, Workflow]:
    now = clock.now()
    user = User(
        id=ids.new_id(),
        created_at=now,
        updated_at=now,
        email=f"bench-{uuid.uuid4().hex[:8]}@example.com",
        password_hash="x",
    )
    workflow = Workflow(
        id=ids.new_id(), created_at=now, updated_at=now, user_id=user.id, name="bench"
    )
    async with store.unit_of_work() as uow:
        await uow.users.add(user)
        await uow.workflows.add(workflow)
        await uow.commit()
    return user, workflow


async def executions(store: Store, user: User, workflow: Workflow, ops: int) -> list[Any]:
    made = []
    began = time.perf_counter()
    for _ in range(ops):
        now = clock.now()
        execution = Execution(
            id=ids.new_id(),
            created_at=now,
            updated_at=now,
            workflow_id=workflow.id,
            user_id=user.id,
            input_data={"n": len(made)},
        )
        async with store.unit_of_work() as uow:
            await uow.executions.add(execution)
            await uow.commit()
        made.append(execution.id)
    inserts = time.perf_counter() - began
    began = time.perf_counter()
    for execution_id in made:
        async with store.unit_of_work() as uow:
            assert await uow.executions.get(execution_id) is not None
    reads = time.perf_counter() - began
    print(f"    executions: insert {rate(ops, inserts)}   point read {rate(ops, reads)}")
    return made


async def logs(store: Store, executions_made: list[Any], ops: int) -> None:
    lines = 0
    began = time.perf_counter()
    targets = executions_made[: max(1, ops // 50)]
    for execution_id in targets:
        for batch in range(5):
            now = clock.now()
            async with store.unit_of_work() as uow:
                await uow.logs.append(
                    [
                        ExecutionLog(
                            id=ids.new_id(),
                            created_at=now,
                            updated_at=now,
                            execution_id=execution_id,
                            level=LogLevel.INFO,
                            message=f"line {batch * 10 + i}",
                            metadata={"i": i},
                        )
                        for i in range(10)
                    ]
                )
                await uow.commit()
            lines += 10
    appended = time.perf_counter() - began
    began = time.perf_counter()
    for execution_id in targets * 10:
        async with store.unit_of_work() as uow:
            page = await uow.logs.list(execution_id, LogQuery(page=2, page_size=20))
            assert page.total == 50
    reads = time.perf_counter() - began
    print(
        f"    logs:       append {rate(lines, appended)} lines   page read "
        f"{rate(len(targets) * 10, reads)}"
    )


async def agent_listing(store: Store, user: User, rows: int, queries: int) -> None:
    owners = [user]
    async with store.unit_of_work() as uow:
        for i in range(19):
            now = clock.now()
            other = User(
                id=ids.new_id(),
                created_at=now,
                updated_at=now,
                email=f"owner-{i}-{uuid.uuid4().hex[:6]}@example.com",
                password_hash="x",
            )
            await uow.users.add(other)
            owners.append(other)
        await uow.commit()
    types, statuses = list(AgentType), list(AgentStatus)
    began = time.perf_counter()
    for start in range(0, rows, 2000):
        async with store.unit_of_work() as uow:
            for n in range(start, min(rows, start + 2000)):
                now = clock.now()
                await uow.agents.add(
                    Agent(
                        id=ids.new_id(),
                        created_at=now,
                        updated_at=now,
                        user_id=owners[n % len(owners)].id,
                        name=f"agent {n:06d}",
                        description=f"does thing number {n}",
                        type=types[n % len(types)],
                        status=statuses[n % len(statuses)],
                        is_public=n % 7 == 0,
                        tags=("bench", f"t{n % 10}"),
                    )
                )
            await uow.commit()
    loaded = time.perf_counter() - began
    latencies = []
    for q in range(queries):
        query = ListQuery.build(
            AGENT_QUERY,
            page=1 + q % 5,
            page_size=20,
            sort_by="name",
            sort_order="asc",
            filters={"type": types[q % len(types)]},
            tags=[f"t{q % 10}"],
            owner_id=user.id,
            include_public=True,
        )
        began = time.perf_counter()
        async with store.unit_of_work() as uow:
            page = await uow.agents.list(query)
        latencies.append((time.perf_counter() - began) * 1000)
        assert page.total > 0
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"    agents:     {rows:,} rows loaded at {rate(rows, loaded)}; list (owner or public, "
        f"type, tag, sort by name, page of 20): p50 {statistics.median(latencies):.2f} ms, "
        f"p99 {p99:.2f} ms over {queries} queries"
    )


def pgbench_ceiling(seconds: int = 10) -> None:
    if shutil.which("pgbench") is None:
        print("  pgbench: not installed (apt install postgresql-contrib)")
        return
    with temporary_database("turbocat_pgbench") as dsn:
        subprocess.run(["pgbench", "-q", "-i", "-s", "10", dsn], check=True, capture_output=True)
        result = subprocess.run(
            ["pgbench", "-S", "-c", "1", "-j", "1", "-T", str(seconds), dsn],
            check=True,
            capture_output=True,
            text=True,
        )
    tps = next(line for line in result.stdout.splitlines() if line.startswith("tps"))
    print(f"  pgbench -S -c 1 ({seconds} s, scale 10): {tps.split('(')[0].strip()}")


async def bench(kind: str, args: argparse.Namespace) -> None:
    print(f"  {kind}:")
    async with open_store(kind) as store:
        user, workflow = await owner_and_workflow(store)
        made = await executions(store, user, workflow, args.ops)
        await logs(store, made, args.ops)
        await agent_listing(store, user, args.agents, args.queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"storage, one client (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"{os.cpu_count()} CPUs)"
    )
    for kind in args.stores.split(","):
        asyncio.run(bench(kind.strip(), args))
    if "postgres" in args.stores:
        pgbench_ceiling()


if __name__ == "__main__":
    main()
