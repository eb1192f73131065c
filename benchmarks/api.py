"""Resource API throughput and tail latency of a real `turbocat serve` on PostgreSQL.

Starts the server (one worker) on a throwaway PostgreSQL database and measures, with wrk
in its own process: create agent (POST /agents), get agent, list agents (a page of 20
over 10,000 agents); and, with an async client in its own process (each pair needs the
id the first request returns): create a 3-step workflow then execute it. Then the cost of
the metrics per request: `/health/live` and GET agent on servers with metrics on (as
served) and off (`TURBOCAT_METRICS=false`), alternately, over the same database.

    python benchmarks/api.py [--seconds 10] [--connections 16] [--metrics-seconds 5]

Needs wrk (`apt install wrk`) and PostgreSQL (TURBOCAT_TEST_POSTGRES, default
postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python benchmarks/<name>.py`: the repository, not this folder, leads sys.path
# (benchmarks/queue.py would otherwise hide the standard library's `queue`).
sys.path[0:1] = [str(Path(__file__).resolve().parents[1])]

import argparse
import asyncio
import multiprocessing
import os
import statistics
import time
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]

from benchmarks.serving import PASSWORD, cpu_seconds, need_wrk, running_server, serving, wrk
from tests.databases import temporary_database

AGENT = {
    "name": "bench agent",
    "type": "DATA",
    "status": "ACTIVE",
    "config": {"operation": "pick", "fields": ["n"]},
    "tags": ["bench"],
}


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
    parser.add_argument("--metrics-seconds", type=int, default=5)
    parser.add_argument("--metrics-rounds", type=int, default=2)
    args = parser.parse_args()
    need_wrk()
    load = os.getloadavg()
    print(
        f"resource API on PostgreSQL, one server process, wrk -t1 -c{args.connections} "
        f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs)"
    )
    with temporary_database("turbocat_api_bench") as dsn, running_server(dsn) as base:
        api = f"{base}/api/v1"
        session = httpx.post(
            f"{api}/auth/register", json={"email": "bench@example.com", "password": PASSWORD}
        ).json()
        token = session["data"]["tokens"]["accessToken"]
        headers = {"Authorization": f"Bearer {token}"}
        rate, p99, made = wrk(
            f"{api}/agents",
            args.seconds,
            args.connections,
            headers=headers,
            method="POST",
            body=AGENT,
        )
        print(f"  POST /agents                       {rate:8,.0f} req/s   p99 {p99:7.2f} ms")
        with httpx.Client(base_url=api, headers=headers, timeout=30) as client:
            while made < args.agents:  # top up to the size the list is measured over
                assert client.post("/agents", json=AGENT).status_code == 201
                made += 1
            agent_id = client.post("/agents", json=AGENT).json()["data"]["id"]
            total = client.get("/agents", params={"pageSize": 1}).json()["meta"]["total"]
        rate, p99, _ = wrk(
            f"{api}/agents/{agent_id}", args.seconds, args.connections, headers=headers
        )
        print(f"  GET /agents/{{id}}                   {rate:8,.0f} req/s   p99 {p99:7.2f} ms")
        rate, p99, _ = wrk(
            f"{api}/agents?page=50&pageSize=20&sortBy=name&sortOrder=asc",
            args.seconds,
            args.connections,
            headers=headers,
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
    with temporary_database("turbocat_api_bench") as dsn:
        metrics_cost(dsn, args.metrics_seconds, args.connections, args.metrics_rounds)
    edge_cost()


def metrics_cost(dsn: str, seconds: int, connections: int, rounds: int) -> None:
    """Requests per second and the server's CPU time per request with metrics on and off,
    alternately on one database (a server each time, each with its own secrets: the user
    signs in again). The CPU time moves less than the rate with the machine's load."""
    paths = {"GET /health/live": "/health/live", "GET /agents/{id}": None}
    rates: dict[tuple[bool, str], list[float]] = {}
    cpu: dict[tuple[bool, str], list[float]] = {}
    agent_id = None
    for _ in range(rounds):
        for on in (True, False):
            with serving(dsn, TURBOCAT_METRICS="true" if on else "false") as (base, pid):
                api = f"{base}/api/v1"
                with httpx.Client(base_url=api, timeout=30) as client:
                    account = {"email": "metrics@example.com", "password": PASSWORD}
                    signed = client.post("/auth/login", json=account)
                    if signed.status_code != 200:
                        signed = client.post("/auth/register", json=account)
                    token = signed.json()["data"]["tokens"]["accessToken"]
                    headers = {"Authorization": f"Bearer {token}"}
                    if agent_id is None:
                        agent_id = client.post("/agents", json=AGENT, headers=headers).json()
                        agent_id = agent_id["data"]["id"]
                for name, path in paths.items():
                    url = f"{base}{path}" if path else f"{api}/agents/{agent_id}"
                    before = cpu_seconds(pid)
                    rate, _, made = wrk(url, seconds, connections, headers=headers)
                    cpu.setdefault((on, name), []).append((cpu_seconds(pid) - before) / made)
                    rates.setdefault((on, name), []).append(rate)
    print(f"  metrics on vs off ({rounds} rounds of {seconds} s each, alternately; medians):")
    for name in paths:
        on, off = (statistics.median(rates[(flag, name)]) for flag in (True, False))
        cpu_on, cpu_off = (statistics.median(cpu[(flag, name)]) * 1e6 for flag in (True, False))
        print(
            f"    {name:18} server CPU per request on {cpu_on:6.1f} µs, off {cpu_off:6.1f} µs: "
            f"{(cpu_on / cpu_off - 1) * 100:+.1f}% ({cpu_on - cpu_off:+.1f} µs; target under "
            f"3%); rate on {on:,.0f} req/s, off {off:,.0f} req/s"
        )


def edge_cost(requests: int = 3000, rounds: int = 7) -> None:
    """The same, in-process: the app (edge middleware, routing, handler) called directly for
    `/health/live`, its CPU time per request with metrics on and off, alternately. No
    sockets, no other process: the steadiest figure on a loaded machine, and the largest
    share (the cheapest request)."""
    from dependency_injector import providers

    from turbocat_adapters.container import Container
    from turbocat_adapters.settings import Settings
    from turbocat_http.app import create_app

    def app(metrics: bool) -> Any:
        settings = Settings(
            database_url="memory://", jwt_secret="b" * 40, encryption_key="A" * 43, metrics=metrics
        )
        return create_app(Container(settings=providers.Object(settings)))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/health/live",
        "raw_path": b"/health/live",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    async def per_request(served: Any) -> float:
        for _ in range(requests // 10):  # warm up
            await served(dict(scope), receive, send)
        began = time.process_time()
        for _ in range(requests):
            await served(dict(scope), receive, send)
        return (time.process_time() - began) / requests * 1e6

    async def main() -> None:
        apps = {True: app(True), False: app(False)}
        cpu: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(rounds):
            for on in (True, False):
                cpu[on].append(await per_request(apps[on]))
        on, off = statistics.median(cpu[True]), statistics.median(cpu[False])
        print(
            f"  in-process GET /health/live: CPU per request on {on:.1f} µs, off {off:.1f} µs: "
            f"{(on / off - 1) * 100:+.1f}% ({on - off:+.1f} µs)"
        )

    asyncio.run(main())


if __name__ == "__main__":
    main()
