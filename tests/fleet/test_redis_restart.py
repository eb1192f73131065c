"""A Redis restart in the middle of runs: nothing is lost (the database is the record)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.cli.test_serve import free_port
from tests.databases import require_postgres, temporary_database
from tests.fleet.fleet import Client, Fleet, step, wait

pytestmark = pytest.mark.slow


class PrivateRedis:
    """A redis-server of this test's own (restarting the shared one would hurt others)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.RedisError):
                if redis.Redis.from_url(self.url).ping():
                    return
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (under CI=true this test never skips)")
        pytest.skip("redis-server is not installed")
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()


def test_a_redis_restart_loses_no_execution(tmp_path: Path, private_redis: PrivateRedis):
    require_postgres()
    with temporary_database("turbocat_fleet") as dsn:
        fleet = Fleet(tmp_path / "data", dsn, private_redis.url, "restart")
        try:
            base = fleet.server()
            fleet.worker()
            fleet.worker()
            client = Client(base)
            agent = client.data_agent()
            workflow = client.workflow(
                [step("a", agent, 1), wait("hold", 3000, "a"), step("b", agent, 2, "hold")]
            )
            ids = [client.execute(workflow) for _ in range(4)]
            for execution_id in ids:
                client.wait_for(execution_id, lambda e: e["status"] == "RUNNING", timeout=30)
            private_redis.kill()  # everything in Redis is gone: queue, leases, sessions
            time.sleep(1.0)
            private_redis.start()
            # Sessions lived in Redis: sign in again (the account is in the database).
            client.sign_in_again()
            for execution_id in ids:
                done = client.finished(execution_id, timeout=60)
                assert done["status"] == "COMPLETED", done
                assert done["outputData"]["b"] == {"n": 2}
            # And the fleet takes new work again.
            workflow = client.workflow([step("a", client.data_agent(), 5)])
            later = client.execute(workflow)
            assert client.finished(later, timeout=30)["status"] == "COMPLETED"
            # Both workers report themselves alive again within a beat or two.
            deadline = time.monotonic() + 20
            while True:
                ready = httpx.get(base.removesuffix("/api/v1") + "/health/ready", timeout=10)
                if ready.json()["checks"]["queue"]["workers"] == 2:
                    break
                assert time.monotonic() < deadline, ready.json()
                time.sleep(0.5)
        finally:
            fleet.close()
