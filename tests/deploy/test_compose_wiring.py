"""What compose.yaml describes, run on the host (containers cannot run here): its commands,
in its order, with its environment and the image's, against the local PostgreSQL (a
database of its own) and Redis (a prefix of its own), make a fleet that runs a workflow."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.cli.test_serve import ROOT, free_port
from tests.databases import (
    REDIS_URL,
    redis_prefix,
    require_postgres,
    require_redis,
    temporary_database,
)
from tests.fleet.fleet import PASSWORD, Client, step

pytestmark = pytest.mark.slow

TURBOCAT = ("migrate", "server", "worker")


def image_environment() -> dict[str, str]:
    """The Dockerfile's ``ENV`` (one instruction, ``KEY=value`` pairs)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    env_line = next(line for line in text.splitlines() if line.startswith("ENV "))
    return dict(re.findall(r"(\w+)=(\S+)", env_line))


def host_command(command: list[str]) -> list[str]:
    """A container's command on the host: the image's ``turbocat`` and ``python`` are this
    interpreter's."""
    if command[0] == "python":
        return [sys.executable, *command[1:]]
    return [sys.executable, "-m", "turbocat_cli", *command]


class Compose:
    """compose.yaml's Turbocat services as host processes."""

    def __init__(self, workdir: Path, env_file: dict[str, str]) -> None:
        self.file = yaml.safe_load((ROOT / "compose.yaml").read_text())
        self.services: dict[str, Any] = self.file["services"]
        self.workdir = workdir
        self.env_file = env_file
        self.processes: list[tuple[subprocess.Popen[str], Path]] = []

    def environment(self, service: str, **host: str) -> dict[str, str]:
        """Precedence as in a container: the image's ENV, then ``env_file``, then the
        service's ``environment``; ``host`` only for what the host cannot share (ports,
        directories)."""
        spec = self.services[service]
        assert spec["env_file"] == ".env"
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("TURBOCAT_")},
            **image_environment(),
            **self.env_file,
            **{k: str(v) for k, v in spec.get("environment", {}).items()},
            "TURBOCAT_HOST": "127.0.0.1",
            "TURBOCAT_DATA_DIR": str(self.workdir / service),
            **host,
        }

    def run(self, service: str) -> None:
        done = subprocess.run(
            host_command(self.services[service]["command"]),
            cwd=self.workdir,
            env=self.environment(service),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr

    def start(self, service: str, replica: int = 0, **host: str) -> dict[str, str]:
        env = self.environment(service, **host)
        Path(env["TURBOCAT_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
        log = self.workdir / f"{service}-{replica}.log"
        process = subprocess.Popen(
            host_command(self.services[service]["command"]),
            cwd=self.workdir,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.processes.append((process, log))
        return env

    def healthy(self, service: str, env: dict[str, str]) -> bool:
        """The service's own health check, run as its container would run it."""
        test = self.services[service]["healthcheck"]["test"]
        assert test[0] == "CMD"
        done = subprocess.run(
            host_command(test[1:]), env=env, capture_output=True, text=True, timeout=30
        )
        return done.returncode == 0

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()}" for _, log in self.processes)

    def wait_until(self, what: str, condition: Any, timeout: float = 90) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            for process, log in self.processes:
                if process.poll() is not None:
                    raise AssertionError(f"{log.name} exited: {log.read_text()}")
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"not {what} in {timeout} s:\n{self.logs()}")
            time.sleep(0.2)

    def stop(self) -> list[int | None]:
        for process, _ in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        codes = []
        for process, _ in self.processes:
            try:
                codes.append(process.wait(timeout=60))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                codes.append(process.wait(timeout=30))
        return codes


@pytest.fixture
def compose(tmp_path: Path) -> Iterator[Compose]:
    require_postgres()
    require_redis()
    with temporary_database("turbocat_compose") as dsn, redis_prefix() as prefix:
        env_file = {  # what an operator's .env holds
            "TURBOCAT_JWT_SECRET": secrets.token_urlsafe(48),
            "TURBOCAT_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "TURBOCAT_DATABASE_URL": dsn,
            "TURBOCAT_REDIS_URL": REDIS_URL,
            "TURBOCAT_REDIS_PREFIX": prefix,
            "TURBOCAT_TRUST_PROXY_HEADERS": "true",  # TLS ends at the proxy in front
        }
        running = Compose(tmp_path, env_file)
        try:
            yield running
        finally:
            running.stop()


def ready(base: str) -> dict[str, Any] | None:
    with contextlib.suppress(httpx.TransportError):
        response = httpx.get(f"{base}/health/ready", timeout=5)
        if response.status_code == 200:
            return dict(response.json())
    return None


def test_the_compose_file_s_commands_make_a_working_fleet(compose: Compose):
    services = compose.services
    # The order its depends_on conditions impose: migrate to completion, then the rest.
    for name in ("server", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["migrate"]["command"] == ["db", "migrate"]
    compose.run("migrate")

    port = str(free_port())
    server_env = compose.start("server", TURBOCAT_PORT=port)
    assert server_env["TURBOCAT_ENV"] == "production"
    base = f"http://127.0.0.1:{port}"
    worker_envs = [
        compose.start("worker", replica)
        for replica in range(services["worker"]["deploy"]["replicas"])
    ]
    assert len(worker_envs) == 2

    report = compose.wait_until(
        "ready with two workers",
        lambda: (r := ready(base)) and r["checks"]["queue"]["workers"] == 2 and r,
    )
    assert report["status"] == "ready"
    compose.wait_until("healthy (server)", lambda: compose.healthy("server", server_env))
    for env in worker_envs:
        compose.wait_until("healthy (worker)", lambda env=env: compose.healthy("worker", env))

    # As the TLS-terminating proxy in front of the server would send it (production
    # redirects plain http).
    proxied = {"X-Forwarded-Proto": "https"}
    account = {"email": "compose@example.com", "password": PASSWORD}
    registered = httpx.post(
        f"{base}/api/v1/auth/register", json=account, headers=proxied, timeout=30
    )
    assert registered.status_code == 201, registered.text
    client = Client(f"{base}/api/v1", registered.json()["data"]["tokens"]["accessToken"])
    client.http.headers.update(proxied)
    agent = client.data_agent()
    workflow = client.workflow([step("a", agent, 1), step("b", agent, 2, "a")])
    done = client.finished(client.execute(workflow))
    assert done["status"] == "COMPLETED", done
    assert done["outputData"] == {"a": {"n": 1}, "b": {"n": 2}}

    # Stopped as `docker compose stop` does (SIGTERM): the workers exit 0, and uvicorn,
    # having shut down, ends by the signal it was sent.
    server, *workers = compose.stop()
    assert server in (0, -signal.SIGTERM), compose.logs()
    assert workers == [0, 0], compose.logs()
    assert "Application shutdown complete" in compose.logs()
