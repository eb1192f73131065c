"""HTTP throughput and tail latency of a real `turbocat serve`, measured with wrk.

Starts the server (one worker, the embedded SQLite store, bcrypt cost 12) in its own
process, then with `wrk` in another:
  - GET /health/live, GET /api/v1/users/me with a bearer token (JWT + session check +
    user read), and the same with an API key (key lookup, rate limit, usage count);
  - GET p99 of /health/live and /users/me while a storm of logins (each a bcrypt check)
    runs at the same time: hashing runs on a bounded thread pool, so reads keep flowing.

    python benchmarks/auth_http.py [--seconds 10] [--connections 16]

Needs wrk (`apt install wrk`).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python benchmarks/<name>.py`: the repository, not this folder, leads sys.path
# (benchmarks/queue.py would otherwise hide the standard library's `queue`).
sys.path[0:1] = [str(Path(__file__).resolve().parents[1])]

import argparse
import json
import os
import re
import subprocess
import tempfile
import time

from benchmarks.serving import PASSWORD, call, need_wrk, running_server, wrk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    need_wrk()
    load = os.getloadavg()
    print(
        f"HTTP, one server process on SQLite, wrk -t1 -c{args.connections} for {args.seconds} s "
        f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs)"
    )
    with running_server() as base:
        api = f"{base}/api/v1"
        session = call(
            "POST", f"{api}/auth/register", {"email": "bench@example.com", "password": PASSWORD}
        )["data"]
        bearer = {"Authorization": f"Bearer {session['tokens']['accessToken']}"}
        key = call(
            "POST",
            f"{api}/api-keys",
            {"name": "bench", "rateLimitPerMinute": 100000},
            Authorization=f"Bearer {session['tokens']['accessToken']}",
        )["data"]["key"]
        for label, url, header in (
            ("GET /health/live", f"{base}/health/live", None),
            ("GET /users/me, bearer token", f"{api}/users/me", bearer),
            ("GET /users/me, API key", f"{api}/users/me", {"X-API-Key": key}),
        ):
            rate, p99, _ = wrk(url, args.seconds, args.connections, headers=header)
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
            rate, p99, _ = wrk(url, args.seconds // 2 or 1, 4, headers=header)
            print(f"  during a login storm: {label:30} {rate:7,.0f} req/s   p99 {p99:7.2f} ms")
        out, _ = storm.communicate()
        logins = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        print(f"  the storm itself: {logins:,.1f} logins/s (each a bcrypt check at cost 12)")
        os.unlink(lua.name)


if __name__ == "__main__":
    main()
