"""Ctrl-C at any moment of `turbocat run` and `turbocat serve`: a clean end, one line on
stderr, never a traceback. Each point is a state the process has reached (a module
imported, a line printed, the server answering), never a time after the start."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.running import Turbocat
from tests.cli.test_serve import environment, free_port

pytestmark = pytest.mark.slow

SLOW_RUN = (
    "name: slow\nagents: {}\nsteps:\n"
    "  - {stepKey: first, stepType: WAIT, config: {durationMs: 600000}}\n"
)
TRACES = ("Traceback", "KeyboardInterrupt", "Task was destroyed", "Exception ignored")


def no_traceback(process: Turbocat) -> None:
    everything = process.stderr + process.stdout
    assert not any(trace in everything for trace in TRACES), everything


@pytest.mark.parametrize(
    "module", ["turbocat_core", "turbocat_adapters.container", "turbocat_cli.app"]
)
def test_ctrl_c_while_run_starts_ends_in_one_line(tmp_path: Path, module: str):
    path = tmp_path / "slow.yaml"
    path.write_text(SLOW_RUN)
    run = Turbocat("run", str(path), "--json", importtime=True)
    run.wait_for_import(module)
    run.interrupt()
    code = run.finish()
    no_traceback(run)
    if code == 130:  # stopped before the run existed
        assert run.stderr_after(0) == ["interrupted"]
        assert run.stdout == ""
    else:  # the start-up won the race: the run existed, and was cancelled
        assert code == 1, run.stderr
        assert run.stderr_after(0) == ["cancelling... (Ctrl-C again to quit at once)"]
        assert json.loads(run.stdout)["status"] == "CANCELLED"


def serving(process: Turbocat, port: int, timeout: float = 120) -> None:
    """Wait until the server answers (or has exited: that fails)."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.process.poll() is None, process.stderr
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                return
        assert time.monotonic() < deadline, f"not serving in {timeout} s: {process.stderr}"
        time.sleep(0.1)


def start_serve(tmp_path: Path, *args: str) -> tuple[Turbocat, int]:
    port = free_port()
    env = environment(tmp_path / "data", TURBOCAT_LOG_LEVEL="warning")
    serve = Turbocat("serve", "--port", str(port), *args, env=env, importtime=True)
    return serve, port


def test_ctrl_c_while_serve_imports_ends_in_one_line(tmp_path: Path):
    serve, _ = start_serve(tmp_path)
    serve.wait_for_import("turbocat_core")
    serve.interrupt()
    assert serve.finish() == 130
    no_traceback(serve)
    assert serve.stderr_after(0) == ["interrupted"]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_while_uvicorn_starts_ends_in_one_line(tmp_path: Path, workers: str):
    serve, _ = start_serve(tmp_path, "--workers", workers)
    shown = serve.wait_for("turbocat on http://")
    if workers == "2":
        shown = serve.wait_for("with several workers", after=shown)
        # Once a worker process has begun its start-up (its interpreter imports `site`):
        # a Ctrl-C reaches it too, as on a terminal, and it used to print a traceback.
        shown = serve.wait_for_import("site", after=shown)
    serve.interrupt()
    code = serve.finish()
    no_traceback(serve)
    # Stopped before uvicorn took over (exit 130), or by uvicorn like a running server.
    assert serve.stderr_after(shown) == ["interrupted" if code == 130 else "turbocat stopped"]
    assert code in (0, 130)


def test_ctrl_c_stops_a_serving_server_in_one_line(tmp_path: Path):
    serve, port = start_serve(tmp_path)
    serving(serve, port)
    shown = len(serve.err)
    serve.interrupt()
    assert serve.finish() == 0
    no_traceback(serve)
    assert serve.stderr_after(shown) == ["turbocat stopped"]
