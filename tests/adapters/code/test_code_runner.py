"""The subprocess CODE runner with the real interpreters: limits, isolation, clean-up."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.adapters.code.helpers import (
    HAVE_NODE,
    ROOT,
    gone,
    marked_processes,
    marker,
    needs_node,
    run,
)
from turbocat_adapters.code import Isolation, SubprocessCodeRunner
from turbocat_adapters.code import sandbox as sandbox_module
from turbocat_adapters.container import Container
from turbocat_adapters.settings import Settings
from turbocat_core.agents.code_agent import CodeAgent
from turbocat_core.agents.failures import AgentFailure, FailureKind
from turbocat_core.domain.agent import AgentType
from turbocat_core.errors import ValidationFailed

pytestmark = pytest.mark.slow


def test_node_is_present_in_ci():
    if os.environ.get("CI") == "true":
        assert HAVE_NODE, "CI must have node for the CODE agent's tests"


async def test_isolation_level_is_reported(runner):
    output = await run(runner, "python", "result = 1")
    assert output["isolation"] == str(await runner.isolation())


async def test_auto_picks_the_strongest_level_and_never_leaves_root_code_as_root():
    level = await SubprocessCodeRunner().isolation()
    if os.environ.get("CI") == "true" and shutil.which("bwrap"):
        assert level is Isolation.BUBBLEWRAP
    without_bwrap = await SubprocessCodeRunner(sandbox="none").isolation()
    if ROOT:
        assert without_bwrap in (Isolation.NAMESPACES, Isolation.UID)
    else:
        assert without_bwrap is Isolation.RLIMITS


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
    mark = marker()
    # Bounded by the test itself (200) so it cannot hurt the machine where no limit holds.
    code = f"""
import os
n = 0
try:
    for _ in range(200):
        if os.fork() == 0:
            os.execv("/bin/sleep", ["sleep", "{mark}"])
        n += 1
except OSError:
    pass
result = n
"""
    output = await run(runner, "python", code, timeout=5)
    assert output["result"] < sandbox_module.TASK_BUDGET  # never root: RLIMIT_NPROC holds
    assert await gone(mark) == []


async def test_cancelling_kills_the_child(runner):
    mark = marker()
    code = f"import subprocess\nsubprocess.run(['/bin/sleep', '{mark}'])"
    task = asyncio.create_task(run(runner, "python", code, timeout=20))
    deadline = time.monotonic() + 10
    while not marked_processes(mark):
        assert time.monotonic() < deadline, "the child never started"
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await gone(mark) == []


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


async def test_no_network_and_a_system_the_code_cannot_write(runner):
    level = await runner.isolation()
    if level not in (Isolation.BUBBLEWRAP, Isolation.NAMESPACES):
        pytest.skip(f"{level} keeps the network")
    code = """
import socket
out = {}
for host, port in (("1.1.1.1", 53), ("127.0.0.1", 5432)):
    try:
        socket.create_connection((host, port), timeout=1)
        out[host] = "open"
    except OSError as error:
        out[host] = type(error).__name__
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
    assert output["1.1.1.1"] != "open"
    assert output["127.0.0.1"] != "open"  # the server's own database, say
    if level is Isolation.BUBBLEWRAP:
        assert output["usr"] != "writable"
        assert "home" not in output["root"]
    else:  # the system as any local user sees it: read-only for a uid that owns nothing
        assert output["usr"] == "PermissionError"


def test_turbocat_code_sandbox_picks_the_runners_sandbox(tmp_path: Path):
    absent = tmp_path / "no.env"
    assert Settings.load({}, absent).code_sandbox == "auto"
    container = Container()
    container.settings.override(Settings.load({"TURBOCAT_CODE_SANDBOX": "None "}, absent))
    agent = container.executors().get(AgentType.CODE)
    assert isinstance(agent, CodeAgent)
    assert isinstance(agent.runner, SubprocessCodeRunner)
    assert agent.runner.sandbox == "none"
    with pytest.raises(ValidationFailed) as caught:
        Settings.load({"TURBOCAT_CODE_SANDBOX": "off"}, absent)
    assert caught.value.details[0].field == "TURBOCAT_CODE_SANDBOX"
