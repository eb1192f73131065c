"""What the API and CODE executors cost on top of the work they wrap.

API: N sequential GETs of a small JSON body from a minimal threaded http.server on
127.0.0.1 (in a process of its own, so that it does not share this one's GIL), sent
  - with a raw httpx.AsyncClient reused for every request (keep-alive),
  - with a raw httpx.AsyncClient made for each request (as HttpxClient does), sharing one
    SSL context, and once more building its own (httpx's default),
  - through ApiAgent.execute over HttpxClient, the SSRF guard lifted for 127.0.0.1 only
    (allowed_hosts, as TURBOCAT_HTTP_ALLOWED_HOSTS does),
  - as a 1-step workflow of that API agent run by the engine on the in-memory store;
and prints p50/p99 per call and the overheads (agent - raw fresh client, engine - agent).

CODE: M runs each of `result = 1` (Python) and `return 1` (Node) through CodeAgent and
SubprocessCodeRunner, in each sandbox mode usable here (bubblewrap, none), next to bare
spawns of the same interpreters (`-I -c pass`, `-e 0`, in the runner's scrubbed
environment), without and with bubblewrap as the runner calls it.

    python benchmarks/executors.py [--quick] [--requests 500] [--code-runs 30]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python benchmarks/<name>.py`: the repository, not this folder, leads sys.path
# (benchmarks/queue.py would otherwise hide the standard library's `queue`).
sys.path[0:1] = [str(Path(__file__).resolve().parents[1])]

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import uuid4

import httpx
from benchmarks.engine import Timed, bench_container

from turbocat_adapters.code import SubprocessCodeRunner
from turbocat_adapters.code.sandbox import bubblewrap_argv, child_env, find_runtime, fresh_uid
from turbocat_adapters.http import HttpxClient
from turbocat_adapters.system import SystemClock
from turbocat_core.agents.api_agent import ApiAgent
from turbocat_core.agents.code_agent import CodeAgent
from turbocat_core.agents.contract import AgentExecutors, RunContext
from turbocat_core.agents.failures import AgentFailure
from turbocat_core.domain.access import Actor
from turbocat_core.domain.agent import Agent, AgentStatus, AgentType
from turbocat_core.domain.common import AgentId, StepId, UserId, WorkflowId
from turbocat_core.domain.execution import ExecutionStatus
from turbocat_core.domain.user import LOCAL_OWNER_ID, UserRole
from turbocat_core.domain.workflow import StepType, Workflow, WorkflowStatus, WorkflowStep

WARM_UP = 3
"""Untimed calls before each series (imports, the bwrap probe, the SSL context)."""
CTX = RunContext(
    execution_id=uuid4(),  # type: ignore[arg-type]
    workflow_id=uuid4(),  # type: ignore[arg-type]
    user_id=uuid4(),  # type: ignore[arg-type]
    step_key="bench",
)
PROGRAMS = {"python": "result = 1", "node": "return 1"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def p50_p99(values: list[float]) -> str:
    return f"p50 {statistics.median(values):7.2f} ms   p99 {pct(values, 0.99):7.2f} ms"


def loadavg() -> str:
    load = os.getloadavg()
    return f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


async def timed(count: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    """ms of each of ``count`` sequential calls, after WARM_UP untimed ones."""
    for _ in range(WARM_UP):
        await call()
    took = []
    for _ in range(count):
        began = time.perf_counter()
        await call()
        took.append((time.perf_counter() - began) * 1000)
    return took


def agent_of(kind: AgentType, config: dict[str, Any], owner: UserId) -> Agent:
    now = SystemClock().now()
    return Agent(
        id=AgentId(uuid4()),
        created_at=now,
        updated_at=now,
        user_id=owner,
        name=f"bench {kind}",
        type=kind,
        status=AgentStatus.ACTIVE,
        config=config,
    )


# --- API ----------------------------------------------------------------------------------

REUSED = "raw httpx, one client reused (keep-alive)"
FRESH = "raw httpx, a client per request, shared SSL context"
FRESH_DEFAULT = "raw httpx, a client per request, httpx's defaults"
AGENT = "ApiAgent.execute (HttpxClient, 127.0.0.1 allowed)"
ENGINE = "engine.run of a 1-step API workflow (memory)"


BODY = json.dumps({"ok": True, "items": list(range(10))}).encode()


class Handler(BaseHTTPRequestHandler):
    """Answers every GET with BODY, in one write, on keep-alive connections.

    tests/adapters/http_peer.py writes the headers and the body separately without
    TCP_NODELAY: on a reused connection Nagle's algorithm then holds the body until the
    client's delayed ACK (about 40 ms on Linux), which would swamp what is measured here."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(BODY)}\r\n\r\n"
        )
        self.wfile.write(head.encode() + BODY)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return None


def serve(conn: Any) -> None:
    """In a process of its own (not sharing this one's GIL): the server, until told to stop."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(server.server_address[1])
    conn.recv()
    server.shutdown()
    server.server_close()


async def engine_runs(
    api: ApiAgent, config: dict[str, Any], count: int
) -> list[tuple[float, float]]:
    """(engine.run ms, ms inside the API agent) of ``count`` runs of a 1-step workflow."""
    agent = Timed(api)
    container = bench_container(AgentExecutors({AgentType.API: agent}))
    store, clock, ids = container.store(), container.clock(), container.ids()
    engine = container.engine()
    owner = LOCAL_OWNER_ID  # in every store from the start
    now = clock.now()
    api_agent = agent_of(AgentType.API, config, owner)
    workflow = Workflow(
        id=WorkflowId(ids.new_id()),
        created_at=now,
        updated_at=now,
        user_id=owner,
        name="one API step",
        status=WorkflowStatus.ACTIVE,
    )
    async with store.unit_of_work() as uow:
        await uow.agents.add(api_agent)
        await uow.workflows.add(workflow)
        await uow.steps.add(
            WorkflowStep(
                id=StepId(ids.new_id()),
                created_at=now,
                updated_at=now,
                workflow_id=workflow.id,
                step_key="get",
                step_name="get",
                step_type=StepType.AGENT,
                agent_id=api_agent.id,
                position=0,
            )
        )
        await uow.commit()
    start = container.start_execution()
    actor = Actor(user_id=owner, role=UserRole.USER)
    results = []
    for n in range(WARM_UP + count):
        execution = await start(actor, workflow.id)
        inside = agent.seconds
        began = time.perf_counter()
        done = await engine.run(execution.id)
        wall = time.perf_counter() - began
        if done.status is not ExecutionStatus.COMPLETED:
            raise SystemExit(f"the 1-step API workflow ended {done.status}: {done.error_message}")
        if n >= WARM_UP:
            results.append((wall * 1000, (agent.seconds - inside) * 1000))
    return results


async def api_part(url: str, count: int) -> None:
    print(
        f"  API: {count} sequential GETs of {url} (small JSON body), each series after "
        f"{WARM_UP} untimed calls"
    )
    ssl_context = httpx.create_ssl_context(trust_env=False)

    async with httpx.AsyncClient(trust_env=False) as reused:

        async def raw_reused() -> None:
            (await reused.get(url)).raise_for_status()

        series = {REUSED: await timed(count, raw_reused)}

    async def raw_fresh() -> None:
        async with httpx.AsyncClient(verify=ssl_context, trust_env=False) as client:
            (await client.get(url)).raise_for_status()

    async def raw_fresh_default() -> None:
        async with httpx.AsyncClient() as client:
            (await client.get(url)).raise_for_status()

    series[FRESH] = await timed(count, raw_fresh)
    series[FRESH_DEFAULT] = await timed(count, raw_fresh_default)

    api = ApiAgent(HttpxClient(allowed_hosts=["127.0.0.1"]), SystemClock())
    config = {"method": "GET", "url": url}
    owner = UserId(uuid4())
    agent = agent_of(AgentType.API, config, owner)

    async def through_agent() -> None:
        output = await api.execute(agent, config, {}, CTX)
        assert output["status"] == 200

    series[AGENT] = await timed(count, through_agent)
    runs = await engine_runs(api, config, count)
    series[ENGINE] = [wall for wall, _ in runs]
    for label, values in series.items():
        print(f"    {label:53} {p50_p99(values)}")

    p50 = {label: statistics.median(values) for label, values in series.items()}
    outside = [wall - inside for wall, inside in runs]
    print(
        f"    overhead (difference of p50s): agent - raw fresh client "
        f"{p50[AGENT] - p50[FRESH]:+.2f} ms; engine step - agent {p50[ENGINE] - p50[AGENT]:+.2f} "
        f"ms; (raw fresh client - raw reused {p50[FRESH] - p50[REUSED]:+.2f} ms)"
    )
    print(
        f"    engine step outside the agent, per run (engine.run - time inside it): "
        f"{p50_p99(outside)}"
    )


# --- CODE ---------------------------------------------------------------------------------


async def spawn(argv: list[str], home: str) -> None:
    """Run ``argv`` to its end, in the environment the runner gives children (this process's
    own may hold costly settings: NODE_EXTRA_CA_CERTS makes node load a CA bundle)."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=child_env(home),
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{argv[-3:]} exited {process.returncode}: {err.decode()[-300:]}")


def bare_argv(runtime: str) -> list[str]:
    """The interpreter the runner would use, doing nothing."""
    executable = find_runtime(runtime).executable
    if runtime == "python":
        return [executable, "-I", "-c", "pass"]
    return [executable, "-e", "0"]


async def bare_in_bwrap(bwrap: str, runtime: str, count: int) -> list[float]:
    """The bare spawn inside bwrap, with the argv the runner builds (setpriv to a fresh uid
    when this process is root), in a workdir of its own."""
    found = find_runtime(runtime)
    setpriv = shutil.which("setpriv") if os.geteuid() == 0 else None
    uid = fresh_uid() if setpriv else None
    workdir = tempfile.mkdtemp(prefix="turbocat-bench-")
    try:
        if uid is not None:
            os.chown(workdir, uid, uid)
            os.chmod(workdir, 0o711)
        argv = bubblewrap_argv(bwrap, found, workdir, bare_argv(runtime), uid=uid, setpriv=setpriv)
        return await timed(count, lambda: spawn(argv, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def code_part(count: int) -> None:
    bwrap = shutil.which("bwrap")
    runtimes = ["python"] + (["node"] if shutil.which("node") else [])
    modes: list[tuple[str, SubprocessCodeRunner]] = []
    strict = SubprocessCodeRunner(sandbox="bubblewrap")
    try:
        await strict.isolation()
        modes.append(("bubblewrap", strict))
        usable = "usable"
    except AgentFailure:
        usable = "not usable here" if bwrap else "not installed"
    modes.append(("none", SubprocessCodeRunner(sandbox="none")))
    auto = await SubprocessCodeRunner().isolation()
    who = "root (a fresh uid per child where the runner can)"
    if os.geteuid() != 0:
        who = f"uid {os.geteuid()}"
    print(
        f"  CODE: {count} runs per series after {WARM_UP} untimed; bubblewrap "
        f"{'present at ' + bwrap if bwrap else 'absent'}, {usable}; the default (sandbox="
        f"auto) gives isolation '{auto}'; this process runs as {who}"
    )
    for runtime in runtimes:
        argv = bare_argv(runtime)
        shown = " ".join([Path(argv[0]).name, *argv[1:]])
        print(f"    {runtime}: {find_runtime(runtime).executable}")
        values = await timed(count, lambda argv=argv: spawn(argv, tempfile.gettempdir()))
        label = f"bare spawn `{shown}`"
        print(f"      {label:44} {p50_p99(values)}")
        if "bubblewrap" in dict(modes):
            assert bwrap is not None
            values = await bare_in_bwrap(bwrap, runtime, count)
            label = "same, inside bwrap (the runner's argv)"
            print(f"      {label:44} {p50_p99(values)}")
        for mode, runner in modes:
            values, outputs = await code_runs(runner, runtime, count)
            child = statistics.median(o["durationMs"] for o in outputs)
            label = f"CodeAgent, sandbox={mode} ({outputs[-1]['isolation']})"
            print(f"      {label:44} {p50_p99(values)}   (child durationMs p50 {child:.0f})")


async def code_runs(
    runner: SubprocessCodeRunner, runtime: str, count: int
) -> tuple[list[float], list[dict[str, Any]]]:
    """(wall ms, outputs) of ``count`` CodeAgent runs of the trivial program."""
    agent = CodeAgent(runner)
    config = {"runtime": runtime, "code": PROGRAMS[runtime], "timeoutSeconds": 10}
    code_agent = agent_of(AgentType.CODE, config, UserId(uuid4()))
    outputs: list[dict[str, Any]] = []

    async def run() -> None:
        output = await agent.execute(code_agent, config, {}, CTX)
        assert output["result"] == 1, output
        outputs.append(output)

    values = await timed(count, run)
    return values, outputs[WARM_UP:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="GETs per API series")
    parser.add_argument("--code-runs", type=int, default=30, help="runs per CODE series")
    parser.add_argument("--quick", action="store_true", help="a smaller run (100 and 10)")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.code_runs = 100, 10
    began = time.monotonic()
    print(
        f"API and CODE executors (load average {loadavg()}, {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}, httpx {httpx.__version__})"
    )
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    server = context.Process(target=serve, args=(theirs,), daemon=True)
    server.start()
    try:
        port = ours.recv()
        asyncio.run(api_part(f"http://127.0.0.1:{port}/items", args.requests))
    finally:
        ours.send("stop")
        server.join(5)
        if server.is_alive():
            server.terminate()
    asyncio.run(code_part(args.code_runs))
    print(f"  took {time.monotonic() - began:.0f} s (load average at the end {loadavg()})")


if __name__ == "__main__":
    main()
