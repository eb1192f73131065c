"""`turbocat serve` resumes interrupted runs at start-up, but not a run whose processing
keeps killing the server: that one ends FAILED after the bound and the server serves on."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.adapters.http_peer import Peer, running_peer
from tests.cli.test_serve import PASSWORD, ROOT, environment, free_port

pytestmark = pytest.mark.slow


class Serve:
    """`turbocat serve` over one data directory, started again and again."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.env = environment(data, TURBOCAT_HTTP_ALLOWED_HOSTS="127.0.0.1")
        self.process: subprocess.Popen[str] | None = None
        self.log = data.parent / "serve.log"

    def start(self) -> str:
        port = free_port()
        self.data.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "turbocat_cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: killed with its children
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited: {self.log.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                    return f"{base}/api/v1"
            assert time.monotonic() < deadline, f"serve not ready: {self.log.read_text()}"
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: what a CODE step did to its server in issue 11 (no clean stop)."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_for(condition, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"no {what} in {timeout} s"
        time.sleep(0.05)
    return found


def finished(http: httpx.Client, execution_id: str) -> dict:
    def ended() -> dict | None:
        execution = http.get(f"/executions/{execution_id}").json()["data"]
        return None if execution["status"] in ("PENDING", "RUNNING") else execution

    return wait_for(ended, f"end of execution {execution_id}")


def called(peer: Peer, key: str, times: int) -> None:
    wait_for(lambda: peer.hits[key] >= times, f"call {times} of {key}")


def test_a_run_that_kills_its_server_twice_ends_failed_instead_of_resuming(tmp_path: Path):
    serve = Serve(tmp_path / "data")
    try:
        with running_peer() as peer:
            base = serve.start()
            http = httpx.Client(base_url=base, timeout=30)
            body = {"email": "ada@example.com", "password": PASSWORD}
            token = http.post("/auth/register", json=body).json()["data"]["tokens"]
            http.headers["Authorization"] = f"Bearer {token['accessToken']}"

            def create(path: str, body: dict) -> str:
                created = http.post(path, json=body)
                assert created.status_code == 201, created.text
                return str(created.json()["data"]["id"])

            url = peer.url("/hold/deadly?seconds=120")
            agent = create("/agents", {"name": "deadly", "type": "API", "config": {"url": url}})
            steps = [{"stepKey": "deadly", "agentId": agent}]
            workflow = create("/workflows", {"name": "w", "status": "ACTIVE", "steps": steps})
            execution = http.post(f"/workflows/{workflow}/execute", json={}).json()["data"]["id"]
            for time_ in (1, 2):
                called(peer, "deadly", time_)  # the step runs: its server dies meanwhile
                serve.kill()
                http.base_url = serve.start()  # resumes the run at start-up (not the 3rd)
            done = finished(http, execution)
            assert done["status"] == "FAILED", done
            assert done["errorMessage"] == (
                "processing failed 2 times (last: the process running it stopped before it "
                "finished); the run was stopped so it does not loop"
            )
            assert peer.hits["deadly"] == 2
            lines = http.get(f"/executions/{execution}/logs?pageSize=100").json()["data"]
            resumed = [line["message"] for line in lines if "resumed" in line["message"]]
            assert [m.split("; its processing failed ")[1][:7] for m in resumed] == [
                "1 time ",
            ]
            # The server serves on: a harmless run completes.
            pick = {"operation": "pick", "fields": ["n"]}
            data = create("/agents", {"name": "pick", "type": "DATA", "config": pick})
            steps = [{"stepKey": "a", "agentId": data, "inputs": {"data": {"n": 1}}}]
            fine = create("/workflows", {"name": "fine", "status": "ACTIVE", "steps": steps})
            second = http.post(f"/workflows/{fine}/execute", json={}).json()["data"]["id"]
            ended = finished(http, second)
            assert ended["status"] == "COMPLETED", ended
            assert ended["outputData"] == {"a": {"n": 1}}
            assert serve.process is not None and serve.process.poll() is None
    finally:
        serve.stop()
