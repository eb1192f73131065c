"""Resource API throughput and tail latency of a real `turbocat serve` on PostgreSQL.

Starts the server (one worker) on a throwaway PostgreSQL database and measures, with wrk
in its own process: create agent (POST /agents), get agent, list agents (a page of 20
over 10,000 agents); and, with an async client in its own process (each pair needs the
id the first request returns): create a 3-step workflow then execute it.

    python benchmarks/api.py [--seconds 10] [--connections 16]

Needs wrk (`apt install wrk`) and PostgreSQL (TURBOCAT_TEST_POSTGRES, default
postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.databases import temporary_database  # noqa: E402

PASSWORD = "Correct-Horse-9"
AGENT = {
    "name": "bench agent",
    "type": "DATA",
    "status": "ACTIVE",
    "config": {"operation": "pick", "fields": ["n"]},
    "tags": ["bench"],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(dsn: str) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TURBOCAT_")}
    data = Path(tempfile.mkdtemp(prefix="turbocat-api-bench-"))
    env.update(TURBOCAT_DATABASE_URL=dsn, TURBOCAT_DATA_DIR=str(data), TURBOCAT_LOG_LEVEL="warning")
    cli = [sys.executable, "-m", "turbocat_cli"]
    subprocess.run([*cli, "db", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    process = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise SystemExit("the server did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)
        shutil.rmtree(data, ignore_errors=True)


def wrk(
    url: str,
    seconds: int,
    connections: int,
    token: str,
    method: str = "GET",
    body: dict[str, Any] | None = None,
) -> tuple[float, float, int]:
    """(requests/s, p99 ms, requests made)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(f'wrk.method = "{method}"\n')
        lua.write(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
        if body is not None:
            lua.write(f"wrk.body = {json.dumps(json.dumps(body))}\n")
            lua.write('wrk.headers["Content-Type"] = "application/json"\n')
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", lua.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(lua.name)
    if "Non-2xx" in out:
        raise SystemExit(f"{method} {url}: some answers were not 2xx:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    made = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rate, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], made


def create_and_execute(
    base: str, token: str, agent_id: str, seconds: int, concurrency: int, results: Any
) -> None:
    """In its own process: pairs of (create a 3-step workflow, execute it)."""

    async def main() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        steps = [
            {
                "stepKey": "a",
                "stepType": "AGENT",
                "agentId": agent_id,
                "inputs": {"data": {"n": 1}},
            },
            {
                "stepKey": "b",
                "stepType": "AGENT",
                "agentId": agent_id,
                "dependsOn": ["a"],
                "inputs": {"data": "{{a.output}}"},
            },
            {
                "stepKey": "c",
                "stepType": "AGENT",
                "agentId": agent_id,
                "dependsOn": ["b"],
                "inputs": {"data": "{{b.output}}"},
            },
        ]
        latencies: list[float] = []
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient(
            base_url=f"{base}/api/v1", headers=headers, timeout=30
        ) as client:

            async def worker() -> None:
                while time.monotonic() < deadline:
                    began = time.perf_counter()
                    created = await client.post(
                        "/workflows", json={"name": "bench", "status": "ACTIVE", "steps": steps}
                    )
                    assert created.status_code == 201, created.text
                    workflow = created.json()["data"]["id"]
                    started = await client.post(f"/workflows/{workflow}/execute", json={})
                    assert started.status_code == 202, started.text
                    latencies.append((time.perf_counter() - began) * 1000)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        results.put(latencies)

    asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--agents", type=int, default=10_000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("this benchmark needs wrk: apt install wrk")
    load = os.getloadavg()
    print(
        f"resource API on PostgreSQL, one server process, wrk -t1 -c{args.connections} "
        f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs)"
    )
    with temporary_database("turbocat_api_bench") as dsn, server(dsn) as base:
        api = f"{base}/api/v1"
        session = httpx.post(
            f"{api}/auth/register", json={"email": "bench@example.com", "password": PASSWORD}
        ).json()
        token = session["data"]["tokens"]["accessToken"]
        headers = {"Authorization": f"Bearer {token}"}
        rate, p99, made = wrk(f"{api}/agents", args.seconds, args.connections, token, "POST", AGENT)
        print(f"  POST /agents                       {rate:8,.0f} req/s   p99 {p99:7.2f} ms")
        with httpx.Client(base_url=api, headers=headers, timeout=30) as client:
            while made < args.agents:  # top up to the size the list is measured over
                assert client.post("/agents", json=AGENT).status_code == 201
                made += 1
            agent_id = client.post("/agents", json=AGENT).json()["data"]["id"]
            total = client.get("/agents", params={"pageSize": 1}).json()["meta"]["total"]
        rate, p99, _ = wrk(f"{api}/agents/{agent_id}", args.seconds, args.connections, token)
        print(f"  GET /agents/{{id}}                   {rate:8,.0f} req/s   p99 {p99:7.2f} ms")
        rate, p99, _ = wrk(
            f"{api}/agents?page=50&pageSize=20&sortBy=name&sortOrder=asc",
            args.seconds,
            args.connections,
            token,
        )
        print(f"  GET /agents (page of 20 of {total:,}) {rate:8,.0f} req/s   p99 {p99:7.2f} ms")
        results: Any = multiprocessing.Queue()
        runner = multiprocessing.Process(
            target=create_and_execute,
            args=(base, token, agent_id, args.seconds, args.connections, results),
        )
        runner.start()
        latencies = sorted(results.get())
        runner.join()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(
            f"  create a 3-step workflow + execute {len(latencies) / args.seconds:8,.1f} pairs/s "
            f"p99 {p99:7.2f} ms (p50 {statistics.median(latencies):.2f} ms)"
        )


if __name__ == "__main__":
    main()
