"""The subprocess CODE runner with the real interpreters: limits, isolation, clean-up."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path
from uuid import uuid4

import pytest

from turbocat_adapters.code import Isolation, SubprocessCodeRunner
from turbocat_adapters.code import sandbox as sandbox_module
from turbocat_core.agents.code_agent import CodeAgent
from turbocat_core.agents.contract import RunContext
from turbocat_core.agents.failures import AgentFailure, FailureKind

pytestmark = pytest.mark.slow

HAVE_NODE = shutil.which("node") is not None
ROOT = os.geteuid() == 0
CTX = RunContext(
    execution_id=uuid4(),  # type: ignore[arg-type]
    workflow_id=uuid4(),  # type: ignore[arg-type]
    user_id=uuid4(),  # type: ignore[arg-type]
    step_key="code",
)


def test_node_is_present_in_ci():
    if os.environ.get("CI") == "true":
        assert HAVE_NODE, "CI must have node for the CODE agent's tests"


needs_node = pytest.mark.skipif(not HAVE_NODE, reason="node is not installed")


@pytest.fixture(params=["auto", "none"])
def runner(request):
    return SubprocessCodeRunner(sandbox=request.param)


async def run(runner, runtime, code, inputs=None, *, timeout=2, memory=128):
    config = {"runtime": runtime, "code": code, "timeoutSeconds": timeout, "memoryMb": memory}
    return await CodeAgent(runner).execute(None, config, inputs or {}, CTX)  # type: ignore[arg-type]


def marked_processes(marker: str) -> list[int]:
    """Pids of processes whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


async def gone(marker: str, within: float = 2.0) -> list[int]:
    deadline = time.monotonic() + within
    while (left := marked_processes(marker)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return left


async def test_isolation_level_is_reported(runner):
    output = await run(runner, "python", "result = 1")
    expected = await runner.isolation()
    assert output["isolation"] == str(expected)
    if runner.sandbox == "none":
        assert expected is Isolation.RLIMITS
    elif os.environ.get("CI") == "true" and shutil.which("bwrap"):
        assert expected is Isolation.BUBBLEWRAP


async def test_inputs_arrive_and_the_environment_holds_no_server_secret(runner, monkeypatch):
    monkeypatch.setenv("TURBOCAT_JWT_SECRET", "jwt-secret-value")
    monkeypatch.setenv("FOO_SECRET", "foo-secret-value")
    code = (
        "import os, sys\n"
        "result = {'env': dict(os.environ), 'stdin': sys.stdin.read(), 'in': inputs}"
    )
    output = await run(runner, "python", code, {"a": [1, 2]})
    env = output["result"]["env"]
    assert set(env) <= {"PATH", "LANG", "HOME", "PWD"}  # bwrap sets PWD (the workdir)
    assert "jwt-secret-value" not in json.dumps(output)
    assert "foo-secret-value" not in json.dumps(output)
    assert output["result"]["in"] == {"a": [1, 2]}
    assert json.loads(output["result"]["stdin"]) == {"a": [1, 2]}


@needs_node
async def test_node_environment_holds_no_server_secret(runner, monkeypatch):
    monkeypatch.setenv("TURBOCAT_JWT_SECRET", "jwt-secret-value")
    monkeypatch.setenv("FOO_SECRET", "foo-secret-value")
    output = await run(runner, "node", "console.log(JSON.stringify(Object.keys(process.env)))")
    assert set(output["result"]) <= {"PATH", "LANG", "HOME", "PWD"}


async def test_the_working_directory_is_empty_and_removed_afterwards(runner):
    code = (
        "import os\nopen('scratch.txt', 'w').write('x')\n"
        "result = {'cwd': os.getcwd(), 'home': os.environ['HOME'], 'files': os.listdir('.')}"
    )
    first = (await run(runner, "python", code))["result"]
    second = (await run(runner, "python", code))["result"]
    assert first["files"] == ["scratch.txt"]  # only what the code itself wrote
    assert second["files"] == ["scratch.txt"]
    assert first["cwd"] != second["cwd"]
    assert first["home"] == first["cwd"]
    assert not Path(first["cwd"]).exists()
    assert not Path(second["cwd"]).exists()


async def test_python_infinite_loop_is_killed_at_the_timeout(runner):
    started = time.monotonic()
    with pytest.raises(AgentFailure) as failure:
        await run(runner, "python", "while True:\n    pass", timeout=1)
    assert time.monotonic() - started < 2.0
    assert failure.value.kind is FailureKind.TIMEOUT
    assert "timed out after 1 s" in str(failure.value)


@needs_node
async def test_node_infinite_loop_is_killed_at_the_timeout(runner):
    started = time.monotonic()
    with pytest.raises(AgentFailure) as failure:
        await run(runner, "node", "for (;;) {}", timeout=1)
    assert time.monotonic() - started < 2.0
    assert failure.value.kind is FailureKind.TIMEOUT


async def test_python_memory_bomb_is_stopped(runner):
    code = "blocks = []\nwhile True:\n    blocks.append(bytearray(16 * 1024 * 1024))"
    with pytest.raises(AgentFailure) as failure:
        await run(runner, "python", code, memory=64)
    assert failure.value.kind is FailureKind.ERROR
    assert "MemoryError" in str(failure.value)


@needs_node
async def test_node_memory_bomb_is_stopped(runner):
    code = "const a = []; for (;;) a.push(new Array(1e6).fill(1.5));"
    started = time.monotonic()
    with pytest.raises(AgentFailure) as failure:
        await run(runner, "node", code, memory=64, timeout=10)
    assert failure.value.kind is FailureKind.ERROR  # the memory limit, not the timeout
    assert time.monotonic() - started < 8


async def test_a_fork_bomb_is_contained_and_everything_is_killed(runner):
    marker = f"60.{uuid4().int % 10**9}"
    # Bounded by the test itself (200) so it cannot hurt the machine where no limit holds.
    code = f"""
import os
n = 0
try:
    for _ in range(200):
        if os.fork() == 0:
            os.execv("/bin/sleep", ["sleep", "{marker}"])
        n += 1
except OSError:
    pass
result = n
"""
    output = await run(runner, "python", code, timeout=5)
    limited = not ROOT or output["isolation"] == "bubblewrap" or _python_reachable()
    if limited:
        assert output["result"] < sandbox_module.TASK_BUDGET
    else:
        assert output["result"] == 200  # root, no uid to switch to: RLIMIT_NPROC is void
    assert await gone(marker) == []


def _python_reachable() -> bool:
    return sandbox_module.world_reachable(os.path.realpath(os.sys.executable))


async def test_cancelling_kills_the_child(runner):
    marker = f"30.{uuid4().int % 10**9}"
    code = f"import subprocess\nsubprocess.run(['/bin/sleep', '{marker}'])"
    task = asyncio.create_task(run(runner, "python", code, timeout=20))
    deadline = time.monotonic() + 5
    while not marked_processes(marker):
        assert time.monotonic() < deadline, "the child never started"
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await gone(marker, within=1.0) == []


async def test_a_missing_node_is_a_clear_failure(monkeypatch):
    monkeypatch.setattr(sandbox_module.shutil, "which", lambda *a, **k: None)
    with pytest.raises(AgentFailure, match="node is not installed on this worker") as failure:
        await run(SubprocessCodeRunner(sandbox="none"), "node", "1")
    assert failure.value.retryable is False


async def test_output_is_capped_and_the_result_survives(runner):
    code = "print('x' * 200_000)\nresult = {'ok': True}"
    output = await run(runner, "python", code)
    assert output["result"] == {"ok": True}
    assert len(output["stdout"]) < 70_000
    assert output["stdout"].endswith(" bytes, the first 65536 shown]")
    assert "[stdout truncated: 200" in output["stdout"]


async def test_sandbox_has_no_network_and_a_read_only_system(runner):
    if await runner.isolation() is not Isolation.BUBBLEWRAP:
        pytest.skip("bubblewrap is not in use")
    code = """
import socket
out = {}
try:
    socket.create_connection(("1.1.1.1", 53), timeout=1)
    out["net"] = "open"
except OSError as error:
    out["net"] = type(error).__name__
try:
    open("/usr/evil", "w")
    out["usr"] = "writable"
except OSError as error:
    out["usr"] = type(error).__name__
import os
out["root"] = sorted(os.listdir("/"))
result = out
"""
    output = (await run(runner, "python", code))["result"]
    assert output["net"] != "open"
    assert output["usr"] != "writable"
    assert "home" not in output["root"]
