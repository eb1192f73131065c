"""HTTP throughput and tail latency of a real `turbocat serve`, measured with wrk.

Starts the server (one worker, the embedded SQLite store, bcrypt cost 12) in its own
process, then with `wrk` in another:
  - GET /health/live, GET /api/v1/users/me with a bearer token (JWT + session check +
    user read), and the same with an API key (key lookup, rate limit, usage count);
  - GET p99 of /health/live and /users/me while a storm of logins (each a bcrypt check)
    runs at the same time: hashing runs on a bounded thread pool, so reads keep flowing.

    python benchmarks/http.py [--seconds 10] [--connections 16]

Needs wrk (`apt install wrk`).
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named http.py: run as a script, its folder would shadow the standard
# library's http package (which urllib imports).
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Correct-Horse-9"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(method: str, url: str, body: dict[str, object] | None = None, **headers: str) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


@contextlib.contextmanager
def server() -> Iterator[str]:
    data = Path(tempfile.mkdtemp(prefix="turbocat-http-bench-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TURBOCAT_")}
    env.update(TURBOCAT_DATA_DIR=str(data), TURBOCAT_LOG_LEVEL="warning")
    process = subprocess.Popen(
        [sys.executable, "-m", "turbocat_cli", "serve", "--port", str(port)],
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
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)
        shutil.rmtree(data, ignore_errors=True)


def wrk(
    url: str, seconds: int, connections: int, header: str | None = None, script: str | None = None
) -> tuple[float, float]:
    """(requests/s, p99 ms)."""
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if header:
        args += ["-H", header]
    if script:
        args += ["-s", script]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rate, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("this benchmark needs wrk: apt install wrk")
    load = os.getloadavg()
    print(
        f"HTTP, one server process on SQLite, wrk -t1 -c{args.connections} for {args.seconds} s "
        f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs)"
    )
    with server() as base:
        api = f"{base}/api/v1"
        session = call(
            "POST", f"{api}/auth/register", {"email": "bench@example.com", "password": PASSWORD}
        )["data"]
        bearer = f"Authorization: Bearer {session['tokens']['accessToken']}"
        key = call(
            "POST",
            f"{api}/api-keys",
            {"name": "bench", "rateLimitPerMinute": 100000},
            Authorization=f"Bearer {session['tokens']['accessToken']}",
        )["data"]["key"]
        for label, url, header in (
            ("GET /health/live", f"{base}/health/live", None),
            ("GET /users/me, bearer token", f"{api}/users/me", bearer),
            ("GET /users/me, API key", f"{api}/users/me", f"X-API-Key: {key}"),
        ):
            rate, p99 = wrk(url, args.seconds, args.connections, header)
            print(f"  {label:30} {rate:8,.0f} req/s   p99 {p99:7.2f} ms")

        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
            body = json.dumps({"email": "bench@example.com", "password": PASSWORD})
            lua.write(
                f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
        storm = subprocess.Popen(
            [
                "wrk",
                "-t1",
                "-c8",
                f"-d{args.seconds + 2}s",
                "--latency",
                "-s",
                lua.name,
                f"{api}/auth/login",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1)  # let the storm fill the bcrypt pool
        for label, url, header in (
            ("GET /health/live", f"{base}/health/live", None),
            ("GET /users/me, bearer token", f"{api}/users/me", bearer),
        ):
            rate, p99 = wrk(url, args.seconds // 2 or 1, 4, header)
            print(f"  during a login storm: {label:30} {rate:7,.0f} req/s   p99 {p99:7.2f} ms")
        out, _ = storm.communicate()
        logins = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        print(f"  the storm itself: {logins:,.1f} logins/s (each a bcrypt check at cost 12)")
        os.unlink(lua.name)


if __name__ == "__main__":
    main()
