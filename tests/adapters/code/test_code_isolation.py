"""What CODE cannot do to the server at each isolation level (docs/agents.md, "Isolation"):
signal it, read its environment, its secrets, its database or /etc/shadow, or leave a
process behind, ``setsid`` or not. The runner here (the test process) stands for the server."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adapters.code.helpers import READ_PATHS, ROOT, gone, marker, needs_node, run
from turbocat_adapters.code import SubprocessCodeRunner
from turbocat_adapters.code import sandbox as sandbox_module
from turbocat_core.agents.failures import AgentFailure, FailureKind

pytestmark = pytest.mark.slow

SRC = Path(__file__).resolve().parents[3] / "src"
REFUSED = ("PermissionError", "FileNotFoundError")
"""How a read fails: not allowed (another uid), or not there (another mount or pid
namespace)."""


@pytest.fixture
def server_files() -> Iterator[dict[str, str]]:
    """Files of mode 0600 owned by the server's user in a directory anyone can enter, as
    ``secrets.json`` and ``turbocat.db`` would be if the data dir were not private."""
    place = Path(tempfile.mkdtemp(prefix="turbocat-server-"))
    place.chmod(0o755)
    files = {}
    for name in ("secrets.json", "turbocat.db"):
        path = place / name
        path.write_text("server secret")
        path.chmod(0o600)
        files[name] = str(path)
    yield files
    shutil.rmtree(place)


async def test_the_code_cannot_kill_the_server(runner):
    code = """
import os, signal
with open("/proc/self/status") as status:
    nnp = [line.split()[1] for line in status if line.startswith("NoNewPrivs:")]
out = {"ppid": os.getppid(), "uid": os.getuid(), "no_new_privs": nnp}
for name, pid in (("parent", os.getppid()), ("server", inputs["server"])):
    try:
        os.kill(pid, signal.SIGKILL)
        out[name] = "sent"
    except OSError as error:
        out[name] = type(error).__name__
result = out
"""
    output = await run(runner, "python", code, {"server": os.getpid()})
    # Still here, and the step ran to its end: neither the runner nor the sandbox's init died.
    result = output["result"]
    assert output["isolation"] == str(await runner.isolation())
    assert result["uid"] != 0
    assert result["no_new_privs"] == ["1"]  # a setuid program cannot make it root again
    assert result["server"] in ("PermissionError", "ProcessLookupError")
    # The parent is the runner (refused) or the init of the run's own pid namespace, which
    # ignores a SIGKILL sent from inside it.
    assert result["parent"] == "PermissionError" or result["ppid"] == 1


@needs_node
async def test_node_cannot_kill_the_server(runner):
    code = """
const out = {uid: process.getuid()};
for (const [name, pid] of [["parent", process.ppid], ["server", inputs.server]]) {
  try { process.kill(pid, "SIGKILL"); out[name] = "sent"; } catch (e) { out[name] = e.code; }
}
out.ppid = process.ppid;
return out;
"""
    result = (await run(runner, "node", code, {"server": os.getpid()}))["result"]
    assert result["uid"] != 0
    assert result["server"] in ("EPERM", "ESRCH")
    assert result["parent"] == "EPERM" or result["ppid"] == 1


async def test_the_code_cannot_read_the_servers_environment_secrets_or_shadow(runner, server_files):
    paths = [f"/proc/{os.getpid()}/environ", *server_files.values(), "/etc/shadow"]
    code = "out = {}\n" + READ_PATHS
    result = (await run(runner, "python", code, {"paths": paths}))["result"]
    assert set(result) == set(paths)
    for path, outcome in result.items():
        assert outcome in REFUSED, (path, outcome)


@pytest.mark.parametrize("ending", ["returns", "times out"])
async def test_a_detached_process_does_not_outlive_the_run(runner, ending):
    mark = marker()
    code = f"""
import os, time
if os.fork() == 0:
    os.setsid()  # a session of its own: out of the run's process group
    if os.fork() == 0:  # and an orphan, adopted by whoever adopts orphans
        os.execv("/bin/sleep", ["sleep", "{mark}"])
    os._exit(0)
os.wait()
while {ending == "times out"}:
    pass
result = "left it"
"""
    if ending == "returns":
        output = await run(runner, "python", code)
        assert output["result"] == "left it"
    else:
        with pytest.raises(AgentFailure) as failure:
            await run(runner, "python", code, timeout=1)
        assert failure.value.kind is FailureKind.TIMEOUT
    assert await gone(mark) == []


AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
NOT_ROOT_SCRIPT = """
import asyncio, json, os, sys
from uuid import uuid4
from turbocat_adapters.code import SubprocessCodeRunner
from turbocat_core.agents.code_agent import CodeAgent
from turbocat_core.agents.contract import RunContext

CTX = RunContext(execution_id=uuid4(), workflow_id=uuid4(), user_id=uuid4(), step_key="code")

async def main():
    config = {"runtime": "python", "code": sys.argv[1], "timeoutSeconds": float(sys.argv[2])}
    agent = CodeAgent(SubprocessCodeRunner(sandbox="none"))
    try:
        out = await agent.execute(None, config, {"server": os.getpid()}, CTX)
    except Exception as error:
        out = {"failed": str(error)}
    print(json.dumps(out))

asyncio.run(main())
"""


@pytest.mark.skipif(not ROOT, reason="becomes another user to run a server that is not root")
@pytest.mark.parametrize("ending", ["returns", "times out"])
def test_without_root_the_reaper_ends_detached_processes(ending):
    """A server that is not root (run here as ``nobody``, on the system's python3, which can
    import the sources) gets the ``rlimits`` level: the same uid as the server, which the
    code can signal (docs/agents.md), but no process outlives the run."""
    python3 = shutil.which("python3", path="/usr/bin:/bin")
    if python3 is None:
        pytest.skip("no system python3 to run a server as another user")
    mark = marker()
    code = f"""
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", ["sleep", "{mark}"])
    os._exit(0)
os.wait()
try:
    os.kill(inputs["server"], 0)
    result = {{"uid": os.getuid(), "server": "reachable"}}
except OSError as error:
    result = {{"uid": os.getuid(), "server": type(error).__name__}}
while {ending == "times out"}:
    pass
"""
    timeout = "1" if ending == "times out" else "10"
    done = subprocess.run(
        [*AS_NOBODY, python3, "-c", NOT_ROOT_SCRIPT, code, timeout],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(SRC)},
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    if ending == "returns":
        assert output["isolation"] == "rlimits"
        assert output["result"] == {"uid": 65534, "server": "reachable"}
    else:
        assert "timed out after 1 s" in output["failed"]
    assert asyncio.run(gone(mark)) == []


@pytest.mark.skipif(not ROOT, reason="only a root worker switches uids")
async def test_as_root_without_an_interpreter_others_can_run_the_step_fails(monkeypatch):
    monkeypatch.setattr(sandbox_module, "world_reachable", lambda path: False)
    with pytest.raises(AgentFailure, match="CODE never runs as root") as failure:
        await run(SubprocessCodeRunner(sandbox="none"), "python", "result = 1")
    assert failure.value.retryable is False
