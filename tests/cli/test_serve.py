"""`turbocat serve` as a real process: zero settings, kept secrets, production refusals."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.metrics.scraping import value

pytestmark = pytest.mark.slow  # each test runs `turbocat serve` as a process

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Correct-Horse-9"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(data_dir: Path, **env: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TURBOCAT_")}
    return {**base, "TURBOCAT_DATA_DIR": str(data_dir), "TURBOCAT_BCRYPT_ROUNDS": "4", **env}


@contextlib.contextmanager
def server(data_dir: Path, *args: str, ready_seconds: float = 30, **env: str) -> Iterator[str]:
    """A running `turbocat serve`; its base URL. Stopped (SIGTERM) afterwards."""
    with serving(data_dir, *args, ready_seconds=ready_seconds, **env) as (base, _):
        yield base


@contextlib.contextmanager
def serving(
    data_dir: Path, *args: str, ready_seconds: float = 30, **env: str
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """As :func:`server`, with the process too (its pid, its output once stopped); ready (its
    health probe answers) within ``ready_seconds``, an upper bound."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "turbocat_cli", "serve", "--port", str(port), *args],
        cwd=ROOT,
        env=environment(data_dir, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_seconds
        while True:
            if process.poll() is not None:
                raise AssertionError(f"serve exited {process.returncode}: {process.stdout.read()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"serve did not become ready in {ready_seconds} s")
            time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def refused(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "turbocat_cli", "serve", "--port", str(free_port())],
        cwd=ROOT,
        env=environment(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_zero_settings_serve_keeps_its_secrets_and_sessions_across_restarts(tmp_path: Path):
    data = tmp_path / "data"
    with server(data) as base:
        created = httpx.post(
            f"{base}/api/v1/auth/register", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert created.status_code == 201, created.text
        token = created.json()["data"]["tokens"]["accessToken"]
        refresh = created.json()["data"]["tokens"]["refreshToken"]
        docs = httpx.get(f"{base}/api/v1/openapi.json")
        assert docs.status_code == 200 and "/api/v1/auth/login" in docs.json()["paths"]
    secrets = data / "secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    kept = secrets.read_text()
    with server(data) as base:  # same data dir: the same secrets, the same sessions
        me = httpx.get(f"{base}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["data"]["email"] == "ada@example.com"
        renewed = httpx.post(f"{base}/api/v1/auth/refresh", json={"refreshToken": refresh})
        assert renewed.status_code == 200
    assert secrets.read_text() == kept


def test_production_refuses_missing_or_weak_secrets(tmp_path: Path):
    missing = refused(tmp_path, TURBOCAT_ENV="production")
    assert missing.returncode == 1
    assert "TURBOCAT_JWT_SECRET is required in production" in missing.stderr
    assert "TURBOCAT_ENCRYPTION_KEY is required in production" in missing.stderr
    weak = refused(
        tmp_path,
        TURBOCAT_ENV="production",
        TURBOCAT_JWT_SECRET="changeme",
        TURBOCAT_ENCRYPTION_KEY="not-base64!",
    )
    assert weak.returncode == 1
    assert "TURBOCAT_JWT_SECRET must be at least 32 characters" in weak.stderr
    assert "TURBOCAT_ENCRYPTION_KEY must be 32 bytes" in weak.stderr
    assert not (tmp_path / "secrets.json").exists()  # production never writes secrets


def test_the_bootstrap_admin_is_created_once_and_two_workers_serve(tmp_path: Path):
    admin = {
        "TURBOCAT_BOOTSTRAP_ADMIN_EMAIL": "root@example.com",
        "TURBOCAT_BOOTSTRAP_ADMIN_PASSWORD": PASSWORD,
    }
    with server(tmp_path, "--workers", "2", **admin) as base:
        logged_in = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": "root@example.com", "password": PASSWORD}
        )
        assert logged_in.status_code == 200, logged_in.text
        assert logged_in.json()["data"]["user"]["role"] == "ADMIN"
        token = logged_in.json()["data"]["tokens"]["accessToken"]
        # Sessions live in the shared SQLite file: whichever worker answers knows them.
        for _ in range(10):
            me = httpx.get(f"{base}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200
    with server(tmp_path, **admin) as base:  # again: the admin exists, nothing changes
        again = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": "root@example.com", "password": PASSWORD}
        )
        assert again.status_code == 200


def test_the_bootstrap_admin_exists_on_an_in_memory_server(tmp_path: Path):
    memory = {
        "TURBOCAT_DATABASE_URL": "memory://",
        "TURBOCAT_BOOTSTRAP_ADMIN_EMAIL": "root@example.com",
        "TURBOCAT_BOOTSTRAP_ADMIN_PASSWORD": PASSWORD,
    }
    with server(tmp_path, **memory) as base:
        logged_in = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": "root@example.com", "password": PASSWORD}
        )
        assert logged_in.status_code == 200, logged_in.text
        assert logged_in.json()["data"]["user"]["role"] == "ADMIN"
    refused = subprocess.run(
        [sys.executable, "-m", "turbocat_cli", "serve", "--workers", "2"],
        cwd=ROOT,
        env=environment(tmp_path, **memory),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1
    assert "serve it with one worker" in refused.stderr


@pytest.mark.slow
def test_two_server_processes_report_their_requests_together(tmp_path: Path):
    """`serve --workers 2`: each process writes its metrics to the data dir's metrics
    folder and a scrape, whichever process answers it, adds them all up. The allowlist
    lets this address in."""
    metrics_dir = tmp_path / "metrics"
    with server(tmp_path, "--workers", "2", TURBOCAT_METRICS_ALLOW="127.0.0.1/32") as base:
        sent = 0
        deadline = time.monotonic() + 60
        # Fresh connections until both processes have answered some (each has its files).
        while len({p.stem.rsplit("_", 1)[-1] for p in metrics_dir.glob("counter_*.db")}) < 2:
            assert httpx.get(f"{base}/health/live", timeout=5).status_code == 200
            sent += 1
            assert time.monotonic() < deadline, "one process answered every request"
        for _ in range(3):  # whichever process answers the scrape
            text = httpx.get(f"{base}/metrics", timeout=5).text
            live = value(
                text,
                "turbocat_http_requests_total",
                method="GET",
                route="/health/live",
                status="2xx",
            )
            assert live == sent
