"""A fleet of real processes for tests: `turbocat serve` and `turbocat worker` over one
PostgreSQL database and one Redis prefix, and an HTTP client that drives it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.cli.test_serve import ROOT, free_port

PASSWORD = "Correct-Horse-9"


class Fleet:
    """Start processes with :meth:`server` and :meth:`worker`; :meth:`close` stops them all."""

    def __init__(self, data_dir: Path, dsn: str, redis_url: str, prefix: str) -> None:
        self.data_dir = data_dir
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TURBOCAT_")},
            "TURBOCAT_DATA_DIR": str(data_dir),
            "TURBOCAT_DATABASE_URL": dsn,
            "TURBOCAT_REDIS_URL": redis_url,
            "TURBOCAT_REDIS_PREFIX": prefix,
            "TURBOCAT_BCRYPT_ROUNDS": "4",
            "TURBOCAT_LOG_LEVEL": "warning",
        }
        self.processes: list[subprocess.Popen[str]] = []
        self.logs: dict[int, Path] = {}
        self.cli("db", "migrate")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "turbocat_cli", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done

    def _start(self, *args: str) -> subprocess.Popen[str]:
        log = self.data_dir / f"process-{len(self.processes)}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            [sys.executable, "-m", "turbocat_cli", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: kill() takes its children too
        )
        self.processes.append(process)
        self.logs[process.pid] = log
        return process

    def log_of(self, process: subprocess.Popen[str]) -> str:
        return self.logs[process.pid].read_text()

    def server(self, *args: str) -> str:
        """A running server's base URL (``/api/v1`` appended); ``args`` go to `serve`."""
        port = free_port()
        process = self._start("serve", "--port", str(port), *args)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"serve exited: {self.log_of(process)}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                    return f"{base}/api/v1"
            if time.monotonic() > deadline:
                raise AssertionError(f"serve not ready in 60 s: {self.log_of(process)}")
            time.sleep(0.1)

    def worker(self, concurrency: int = 4, *args: str) -> subprocess.Popen[str]:
        process = self._start("worker", "--concurrency", str(concurrency), *args)
        deadline = time.monotonic() + 60
        while "ready:" not in self.log_of(process):  # its runtime is up
            if process.poll() is not None:
                raise AssertionError(f"worker exited: {self.log_of(process)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker not ready in 60 s: {self.log_of(process)}")
            time.sleep(0.1)
        return process

    def lease_holder(self, execution_id: str) -> str | None:
        """Who holds the execution's lease in Redis now (``<host>:<pid>:...`` for a worker,
        ``queue:<job>`` for a queued job), or ``None``."""
        import redis

        key = f"{self.env['TURBOCAT_REDIS_PREFIX']}:claim:run:{execution_id}"
        with redis.Redis.from_url(self.env["TURBOCAT_REDIS_URL"], decode_responses=True) as r:
            holder = r.get(key)
        return None if holder is None else str(holder)

    @staticmethod
    def kill(process: subprocess.Popen[str], sig: int = signal.SIGKILL) -> None:
        """Signal the process and everything it started (RQ's scheduler)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill(process)


def held_by(holder: str | None, process: subprocess.Popen[str]) -> bool:
    """Whether a lease holder is ``process`` (a worker: ``<host>:<pid>:<random>:<run>``)."""
    return holder is not None and holder.split(":")[1:2] == [str(process.pid)]


class Gate:
    """An HTTP server on 127.0.0.1 for API steps: the first request is held until
    :meth:`close` (a step in flight, for as long as the test needs), later ones answer at
    once; :meth:`wait_for` waits for the n-th to arrive."""

    def __init__(self) -> None:
        self.requests = 0
        self._arrived = threading.Condition()
        self._open = threading.Event()
        gate = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                with gate._arrived:
                    gate.requests += 1
                    number = gate.requests
                    gate._arrived.notify_all()
                if number == 1:
                    gate._open.wait(600)
                body = json.dumps({"request": number}).encode()
                with contextlib.suppress(OSError):  # its caller may have gone meanwhile
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 60) -> None:
        with self._arrived:
            if not self._arrived.wait_for(lambda: self.requests >= count, timeout):
                raise AssertionError(f"{self.requests} request(s) in {timeout} s, not {count}")

    def close(self) -> None:
        self._open.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Client:
    """One user of a server, with the calls the fleet tests make."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=30)
        self.email = f"fleet-{uuid.uuid4().hex[:10]}@example.com"
        if token is None:
            body = {"email": self.email, "password": PASSWORD}
            data = self.ok(self.http.post("/auth/register", json=body))
            token = data["tokens"]["accessToken"]
        self.token = token
        self.http.headers["Authorization"] = f"Bearer {token}"

    def sign_in_again(self) -> None:
        """A new session (e.g. after Redis, where sessions live, lost them)."""
        body = {"email": self.email, "password": PASSWORD}
        data = self.ok(self.http.post("/auth/login", json=body))
        self.token = data["tokens"]["accessToken"]
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    def on(self, base: str) -> Client:
        """The same user on another server."""
        return Client(base, self.token)

    @staticmethod
    def ok(response: httpx.Response) -> Any:
        assert response.status_code < 300, response.text
        return response.json()["data"]

    def get(self, path: str) -> Any:
        return self.ok(self.http.get(path))

    def post(self, path: str, body: Any = None) -> Any:
        return self.ok(self.http.post(path, json=body or {}))

    def data_agent(self) -> str:
        """A DATA agent passing ``data`` through (``pick`` of the field ``n``)."""
        body = {"name": "pick", "type": "DATA", "config": {"operation": "pick", "fields": ["n"]}}
        return str(self.post("/agents", body)["id"])

    def workflow(self, steps: list[dict[str, Any]], **fields: Any) -> str:
        body = {"name": "fleet", "status": "ACTIVE", "steps": steps, **fields}
        return str(self.post("/workflows", body)["id"])

    def execute(self, workflow_id: str, inputs: dict[str, Any] | None = None) -> str:
        return str(self.post(f"/workflows/{workflow_id}/execute", {"inputs": inputs or {}})["id"])

    def execution(self, execution_id: str) -> dict[str, Any]:
        return dict(self.get(f"/executions/{execution_id}"))

    def logs(self, execution_id: str) -> list[dict[str, Any]]:
        return list(self.get(f"/executions/{execution_id}/logs?pageSize=100"))

    def wait_for(
        self, execution_id: str, done: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            execution = self.execution(execution_id)
            if done(execution):
                return execution
            if time.monotonic() > deadline:
                raise AssertionError(f"not there in {timeout} s: {execution}")
            time.sleep(0.1)

    def finished(self, execution_id: str, timeout: float = 60) -> dict[str, Any]:
        return self.wait_for(
            execution_id, lambda e: e["status"] not in ("PENDING", "RUNNING"), timeout
        )


def step(key: str, agent: str, n: int, *deps: str) -> dict[str, Any]:
    return {"stepKey": key, "agentId": agent, "inputs": {"data": {"n": n}}, "dependsOn": list(deps)}


def wait(key: str, ms: int, *deps: str) -> dict[str, Any]:
    return {
        "stepKey": key,
        "stepType": "WAIT",
        "config": {"durationMs": ms},
        "dependsOn": list(deps),
    }
