"""What the server benchmarks share: a real `turbocat serve` in its own process, and wrk."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Correct-Horse-9"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(method: str, url: str, body: dict[str, object] | None = None, **headers: str) -> dict:
    """One JSON request with the standard library; the decoded answer."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


@contextlib.contextmanager
def running_server(database_url: str | None = None, **settings: str) -> Iterator[str]:
    """`turbocat serve` (one worker) on a fresh data dir, migrated first when it is given a
    database, with ``settings`` (``TURBOCAT_*`` variables); yields its base URL and stops
    it after."""
    with serving(database_url, **settings) as (base, _):
        yield base


def cpu_seconds(pid: int) -> float:
    """The user and system CPU time a process has used so far (Linux: /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serving(database_url: str | None = None, **settings: str) -> Iterator[tuple[str, int]]:
    """As :func:`running_server`, with the server's pid."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TURBOCAT_")}
    data = Path(tempfile.mkdtemp(prefix="turbocat-bench-"))
    env.update(TURBOCAT_DATA_DIR=str(data), TURBOCAT_LOG_LEVEL="warning", **settings)
    cli = [sys.executable, "-m", "turbocat_cli"]
    if database_url is not None:
        env["TURBOCAT_DATABASE_URL"] = database_url
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
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{base}/health/ready", timeout=1)
                break
            time.sleep(0.1)
        else:
            raise SystemExit("the server did not start")
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)
        shutil.rmtree(data, ignore_errors=True)


def need_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("this benchmark needs wrk: apt install wrk")


def wrk_figures(out: str) -> tuple[float, float, int]:
    """(requests/s, p99 ms, requests made) from the output of `wrk --latency`."""
    if "Non-2xx" in out:
        raise SystemExit(f"some answers were not 2xx:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    made = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rate, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], made


def wrk(
    url: str,
    seconds: int,
    connections: int,
    *,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: dict[str, object] | None = None,
) -> tuple[float, float, int]:
    """Run wrk (one thread) against ``url``; (requests/s, p99 ms, requests made)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(f'wrk.method = "{method}"\n')
        for name, value in (headers or {}).items():
            lua.write(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}\n")
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
    return wrk_figures(out)
