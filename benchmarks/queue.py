"""Fleet mode end to end: enqueue-to-start latency, throughput, durable overhead per step.

Starts one `turbocat serve` and `turbocat worker --concurrency 8` processes (tests/fleet/
fleet.py) over a throwaway PostgreSQL database and a Redis prefix of their own, and
measures through the HTTP API:
  - enqueue-to-start: N executions of a 1-step DATA workflow, one at a time (the worker
    idle): startedAt - createdAt of each (split by the RQ jobs' own timestamps), and the
    client's submit-to-finished time;
  - throughput: M executions of a 1-step and of a 10-step DATA chain submitted at once
    (8 concurrent requests), with 1 and with 2 workers: M / (first submit to last
    completedAt), how many did not complete, the server's and workers' CPU seconds, and
    how often the reaper queued an execution again;
  - durable overhead per step: the 10-step runs' durationMs / 10 (one at a time, and
    under the throughput load), next to the in-process engine on a PostgreSQL store (a
    100-step chain, no HTTP, no queue, no Redis).

    python benchmarks/queue.py [--quick] [--latency-runs 200] [--one-step 300] [--ten-step 100]

Needs PostgreSQL (TURBOCAT_TEST_POSTGRES, default postgresql://postgres@127.0.0.1:5432/
postgres) and Redis (TURBOCAT_TEST_REDIS, default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python benchmarks/queue.py`: the repository, not this folder, leads sys.path (this
# file's name would otherwise hide the standard library's `queue`: asyncio, httpx and RQ use it).
sys.path[0:1] = [str(Path(__file__).resolve().parents[1])]
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

import argparse
import asyncio
import importlib.util
import os
import re
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
import redis
from tests.databases import REDIS_URL, redis_prefix, temporary_database
from tests.fleet.fleet import Client, Fleet, step

CONCURRENCY = 8
"""Places per worker (`turbocat worker --concurrency`)."""
SUBMITTERS = 8
"""Requests in flight while submitting a batch."""
POLL = 0.005
"""Seconds between polls of one execution while waiting for it (the latency runs)."""
TARGET_START_MS = 10.0
TARGET_STEP_MS = 2.0


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def ms(later: str, earlier: str) -> float:
    return (when(later) - when(earlier)).total_seconds() * 1000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def p50_p99(values: list[float]) -> str:
    return f"p50 {statistics.median(values):7.1f} ms   p99 {pct(values, 0.99):7.1f} ms"


def flag(value: float, target: float) -> str:
    return f"(target < {target:g} ms: {'met' if value < target else 'NOT met'})"


def chain(client: Client, agent: str, steps: int) -> str:
    plan = [step("s0", agent, 0)]
    for i in range(1, steps):
        plan.append(
            {
                "stepKey": f"s{i}",
                "agentId": agent,
                "inputs": {"data": f"{{{{s{i - 1}.output}}}}"},
                "dependsOn": [f"s{i - 1}"],
            }
        )
    return client.workflow(plan)


def finished(client: Client, execution_id: str) -> dict[str, Any]:
    """Poll every POLL seconds until the execution ends."""
    deadline = time.monotonic() + 60
    while True:
        execution = client.execution(execution_id)
        if execution["status"] not in ("PENDING", "RUNNING"):
            return execution
        if time.monotonic() > deadline:
            raise SystemExit(f"execution {execution_id} did not finish in 60 s: {execution}")
        time.sleep(POLL)


def rq_breakdown(prefix: str, executions: list[dict]) -> dict[str, list[float]]:
    """Where enqueue-to-start goes, from the RQ jobs' own timestamps (kept result_ttl after
    they end): ms from the execution's createdAt to RQ's enqueued_at (the server: its
    commit, the queue marker, the RQ enqueue), from there to RQ's started_at (dequeued by
    the worker), and from there to the execution's startedAt (the job hands it to the
    runtime, which takes the lease, loads it and marks it RUNNING)."""
    job_prefix = re.sub(r"[^A-Za-z0-9_-]", "_", prefix)
    jobs: dict[str, dict[bytes, bytes]] = {}
    with redis.Redis.from_url(REDIS_URL) as connection:
        for key in connection.scan_iter(match=f"rq:job:{job_prefix}-*", count=1000):
            execution_id = key.decode().removeprefix(f"rq:job:{job_prefix}-")[:36]
            fields = connection.hmget(key, ["enqueued_at", "started_at"])
            if all(fields):
                jobs[execution_id] = dict(zip([b"enqueued_at", b"started_at"], fields, strict=True))
    parts: dict[str, list[float]] = {"server": [], "dequeue": [], "worker": []}
    for execution in executions:
        job = jobs.get(execution["id"])
        if job is None:
            continue
        enqueued = job[b"enqueued_at"].decode()
        dequeued = job[b"started_at"].decode()
        parts["server"].append(ms(enqueued, execution["createdAt"]))
        parts["dequeue"].append(ms(dequeued, enqueued))
        parts["worker"].append(ms(execution["startedAt"], dequeued))
    return parts


def one_at_a_time(client: Client, workflow: str, runs: int) -> tuple[list[dict], list[float]]:
    """Each run submitted once the previous one ended; (executions, submit-to-finished ms)."""
    executions, walls = [], []
    for _ in range(runs):
        began = time.perf_counter()
        execution = finished(client, client.execute(workflow))
        walls.append((time.perf_counter() - began) * 1000)
        executions.append(execution)
    return executions, walls


async def submit(base: str, token: str, workflow: str, count: int) -> tuple[datetime, float]:
    """Queue ``count`` executions, SUBMITTERS requests at a time; (first submit, seconds)."""
    headers = {"Authorization": f"Bearer {token}"}
    left = count
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:

        async def submitter() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                answer = await http.post(f"/workflows/{workflow}/execute", json={"inputs": {}})
                if answer.status_code != 202:
                    raise SystemExit(f"execute answered {answer.status_code}: {answer.text}")

        first = datetime.now(UTC)
        began = time.perf_counter()
        await asyncio.gather(*(submitter() for _ in range(SUBMITTERS)))
        return first, time.perf_counter() - began


def all_finished(client: Client, workflow: str, count: int, timeout: float) -> list[dict]:
    """Wait until none of the workflow's executions is PENDING or RUNNING; all of them."""
    path = f"/workflows/{workflow}/executions?pageSize=1"
    deadline = time.monotonic() + timeout
    while True:
        unfinished = sum(
            client.http.get(f"{path}&status={status}").json()["meta"]["total"]
            for status in ("PENDING", "RUNNING")
        )
        if unfinished == 0:
            break
        if time.monotonic() > deadline:
            print(f"    gave up waiting after {timeout:.0f} s: {unfinished} still unfinished")
            break
        time.sleep(0.1)
    executions: list[dict] = []
    page = 1
    while True:
        answer = client.http.get(f"/workflows/{workflow}/executions?pageSize=100&page={page}")
        body = answer.json()
        executions += body["data"]
        if not body["meta"]["hasNext"]:
            break
        page += 1
    if len(executions) != count:
        print(f"    expected {count} executions, found {len(executions)}")
    return executions


@dataclass
class Batch:
    label: str
    count: int
    steps: int
    rate: float
    failures: dict[str, int]
    per_step: list[float]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(fleet: Fleet, client: Client, agent: str, steps: int, count: int) -> Batch:
    server, *workers = fleet.processes
    label = f"{len(workers)} worker{'s' if len(workers) > 1 else ''}"
    workflow = chain(client, agent, steps)
    pids = {"server": [server.pid], "workers": [w.pid for w in workers]}
    cpu_before = {k: sum(map(cpu_seconds, v)) for k, v in pids.items()}
    own_before = time.process_time()
    first, submitting = asyncio.run(submit(client.base, client.token, workflow, count))
    executions = all_finished(client, workflow, count, timeout=120)
    cpu = {k: sum(map(cpu_seconds, v)) - cpu_before[k] for k, v in pids.items()}
    cpu["client"] = time.process_time() - own_before
    done = [e for e in executions if e["status"] == "COMPLETED"]
    failures: dict[str, int] = {}
    for execution in executions:
        if execution["status"] != "COMPLETED":
            failures[execution["status"]] = failures.get(execution["status"], 0) + 1
    last = max(when(e["completedAt"]) for e in executions if e["completedAt"])
    took = (last - first).total_seconds()
    waits = [ms(e["startedAt"], e["createdAt"]) for e in executions if e["startedAt"]]
    per_step = [e["durationMs"] / steps for e in done if e["durationMs"] is not None]
    rate = count / took
    print(
        f"    {label:9} {steps:2}-step x {count}: {rate:6.1f} executions/s "
        f"({took:5.2f} s, submitted in {submitting:.2f} s); "
        f"{'all COMPLETED' if not failures else f'NOT COMPLETED: {failures}'}"
    )
    print(
        f"      queue wait (startedAt - createdAt) p50 {statistics.median(waits):.0f} ms, "
        f"p99 {pct(waits, 0.99):.0f} ms; CPU s: server {cpu['server']:.1f}, workers "
        f"{cpu['workers']:.1f}, client {cpu['client']:.1f} (PostgreSQL and Redis not counted)"
    )
    return Batch(label, count, steps, rate, failures, per_step)


def load_engine_benchmark() -> Any:
    """benchmarks/engine.py, for its timed DATA agent and its no-op queue."""
    spec = importlib.util.spec_from_file_location("bench_engine", HERE / "engine.py")
    if spec is None or spec.loader is None:
        raise SystemExit("benchmarks/engine.py is missing")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


async def in_process_chain(dsn: str, steps: int, repeat: int) -> list[tuple[float, float]]:
    """The engine on a PostgreSQL store in this process: (wall ms/step, DATA work ms/step) of
    each run of a ``steps``-long DATA chain."""
    from turbocat_core.agents.contract import AgentExecutors
    from turbocat_core.domain.access import Actor
    from turbocat_core.domain.agent import Agent, AgentStatus, AgentType
    from turbocat_core.domain.common import AgentId, StepId, WorkflowId
    from turbocat_core.domain.execution import ExecutionStatus
    from turbocat_core.domain.user import User, UserRole
    from turbocat_core.domain.workflow import StepType, Workflow, WorkflowStatus, WorkflowStep

    bench = load_engine_benchmark()
    folder = Path(tempfile.mkdtemp(prefix="turbocat-bench-"))
    data = bench.TimedDataAgent()
    container = bench.bench_container(AgentExecutors({AgentType.DATA: data}), dsn, folder)
    store = container.store()
    await store.open()
    try:
        await store.migrate()
        clock, ids, engine = container.clock(), container.ids(), container.engine()
        now = clock.now()
        user = User(
            id=ids.new_id(),
            created_at=now,
            updated_at=now,
            email=f"bench-{uuid4().hex[:8]}@example.com",
            password_hash="x",
        )
        agent = Agent(
            id=AgentId(ids.new_id()),
            created_at=now,
            updated_at=now,
            user_id=user.id,
            name="noop",
            type=AgentType.DATA,
            status=AgentStatus.ACTIVE,
            config={"operation": "pick", "fields": ["n"]},
        )
        workflow = Workflow(
            id=WorkflowId(ids.new_id()),
            created_at=now,
            updated_at=now,
            user_id=user.id,
            name=f"chain of {steps}",
            status=WorkflowStatus.ACTIVE,
        )
        async with store.unit_of_work() as uow:
            await uow.users.add(user)
            await uow.agents.add(agent)
            await uow.workflows.add(workflow)
            for i in range(steps):
                await uow.steps.add(
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
                        depends_on=(f"s{i - 1}",) if i else (),
                        inputs={"data": f"{{{{s{i - 1}.output}}}}" if i else {"n": 0}},
                    )
                )
            await uow.commit()
        start = container.start_execution()
        results = []
        for _ in range(repeat):
            execution = await start(Actor(user_id=user.id, role=UserRole.USER), workflow.id)
            inside = data.seconds
            began = time.perf_counter()
            done = await engine.run(execution.id)
            wall = time.perf_counter() - began
            if done.status is not ExecutionStatus.COMPLETED:
                print(f"    in-process run ended {done.status}: {done.error_message}")
            results.append((wall / steps * 1000, (data.seconds - inside) / steps * 1000))
        return results
    finally:
        await store.close()
        shutil.rmtree(folder, ignore_errors=True)


def commit_ms(dsn: str, count: int = 200) -> float:
    """p50 of a one-row INSERT committed on its own: the WAL flush every durable step pays."""
    import psycopg

    took = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (n int)")
        for n in range(count):
            began = time.perf_counter()
            conn.execute("INSERT INTO bench_commit VALUES (%s)", (n,))
            took.append((time.perf_counter() - began) * 1000)
        conn.execute("DROP TABLE bench_commit")
    return statistics.median(took)


def loadavg() -> str:
    load = os.getloadavg()
    return f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-runs", type=int, default=200)
    parser.add_argument("--one-step", type=int, default=300, help="1-step executions per batch")
    parser.add_argument("--ten-step", type=int, default=100, help="10-step executions per batch")
    parser.add_argument("--idle-ten-step", type=int, default=20)
    parser.add_argument("--chain", type=int, default=100, help="in-process chain length")
    parser.add_argument("--repeat", type=int, default=3, help="in-process runs")
    parser.add_argument("--quick", action="store_true", help="a smaller run (about a third)")
    args = parser.parse_args()
    if args.quick:
        args.latency_runs, args.one_step, args.ten_step = 50, 100, 30
        args.idle_ten_step, args.repeat = 5, 1
    began = time.monotonic()
    print(
        f"fleet mode on PostgreSQL + Redis: 1 server, workers --concurrency {CONCURRENCY} "
        f"(load average {loadavg()}, {os.cpu_count()} CPUs)"
    )
    data_dir = Path(tempfile.mkdtemp(prefix="turbocat-bench-"))
    with temporary_database("turbocat_queue_bench") as dsn, redis_prefix() as prefix:
        print(f"  PostgreSQL commit (1-row INSERT) p50 {commit_ms(dsn):.2f} ms at the start")
        fleet = Fleet(data_dir / "data", dsn, REDIS_URL, prefix)
        try:
            base = fleet.server()
            fleet.worker(CONCURRENCY)
            client = Client(base)
            agent = client.data_agent()

            one = chain(client, agent, 1)
            finished(client, client.execute(one))  # warm up the server and the worker
            runs, walls = one_at_a_time(client, one, args.latency_runs)
            starts = [ms(e["startedAt"], e["createdAt"]) for e in runs]
            print(f"  1 worker, idle: {args.latency_runs} 1-step executions one at a time")
            print(
                f"    enqueue-to-start (startedAt - createdAt)  {p50_p99(starts)}  "
                f"{flag(statistics.median(starts), TARGET_START_MS)}"
            )
            print(f"    submit-to-finished (client, {POLL * 1000:g} ms polls) {p50_p99(walls)}")
            parts = rq_breakdown(prefix, runs)
            if parts["server"]:
                print(
                    "    of which (p50, RQ's timestamps): createdAt->enqueued "
                    f"{statistics.median(parts['server']):.1f} ms, enqueued->dequeued "
                    f"{statistics.median(parts['dequeue']):.1f} ms, dequeued->startedAt "
                    f"{statistics.median(parts['worker']):.1f} ms"
                )
            ten = chain(client, agent, 10)
            runs, walls = one_at_a_time(client, ten, args.idle_ten_step)
            idle_step = [e["durationMs"] / 10 for e in runs]
            idle_start = [ms(e["startedAt"], e["createdAt"]) for e in runs]
            print(
                f"    {args.idle_ten_step} 10-step executions one at a time: durationMs / 10 "
                f"p50 {statistics.median(idle_step):.2f} ms; enqueue-to-start p50 "
                f"{statistics.median(idle_start):.1f} ms; submit-to-finished p50 "
                f"{statistics.median(walls):.0f} ms"
            )

            print("  throughput (submitted at once, until the last completedAt)")
            batches = [
                throughput(fleet, client, agent, 1, args.one_step),
                throughput(fleet, client, agent, 10, args.ten_step),
            ]
            fleet.worker(CONCURRENCY)
            batches += [
                throughput(fleet, client, agent, 1, args.one_step),
                throughput(fleet, client, agent, 10, args.ten_step),
            ]
            fleet.close()
            logs = [fleet.log_of(process) for process in fleet.processes[1:]]
            requeued = sum(log.count("queued again") for log in logs)
            errors = sum(log.count("Traceback") for log in logs)
            print(
                f"    workers' logs: {requeued} execution(s) queued again by the reaper, "
                f"{errors} traceback(s)"
            )
        finally:
            fleet.close()
            shutil.rmtree(data_dir, ignore_errors=True)
            with redis.Redis.from_url(REDIS_URL) as connection:  # RQ's set of queue names
                connection.srem("rq:queues", f"rq:queue:{prefix}:executions")

        print("  durable overhead per step on PostgreSQL")
        idle = statistics.median(idle_step)
        print(
            f"    fleet, 10-step one at a time:  durationMs / 10 p50 {idle:6.2f} ms  "
            f"{flag(idle, TARGET_STEP_MS)}"
        )
        for batch in batches:
            if batch.steps == 10 and batch.per_step:
                value = statistics.median(batch.per_step)
                print(
                    f"    fleet, 10-step, {batch.label:9} under load ({CONCURRENCY} per worker): "
                    f"durationMs / 10 p50 {value:6.2f} ms"
                )
        results = asyncio.run(in_process_chain(dsn, args.chain, args.repeat))
        wall = statistics.median(r[0] for r in results)
        work = statistics.median(r[1] for r in results)
        print(
            f"    in-process engine, {args.chain}-step chain on a PostgreSQL store "
            f"({args.repeat} run(s)): {wall:6.2f} ms/step wall, of which DATA work "
            f"{work:.3f} ms  {flag(wall, TARGET_STEP_MS)}"
        )
        print(f"  PostgreSQL commit (1-row INSERT) p50 {commit_ms(dsn):.2f} ms at the end")
    print(f"  took {time.monotonic() - began:.0f} s (load average at the end {loadavg()})")


if __name__ == "__main__":
    main()
