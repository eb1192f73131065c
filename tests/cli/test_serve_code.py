"""CODE steps under a real `turbocat serve` (uvloop) without bubblewrap, and a private data dir."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.adapters.code.helpers import READ_PATHS
from tests.cli.test_serve import serving
from tests.fleet.fleet import Client

pytestmark = pytest.mark.slow

ROOT = os.geteuid() == 0

PROBE = (
    """
import os, signal
out = {"uid": os.getuid()}
for name, pid in (("parent", os.getppid()), ("server", inputs["server"])):
    try:
        os.kill(pid, signal.SIGKILL)
        out[name] = "sent"
    except OSError as error:
        out[name] = type(error).__name__
"""
    + READ_PATHS
)


@pytest.fixture
def open_place() -> Iterator[Path]:
    """A directory any user can enter (unlike pytest's own, under a 0700 directory): what
    keeps the server's files from a CODE run's uid is then the data dir's own mode."""
    place = Path(tempfile.mkdtemp(prefix="turbocat-serve-"))
    place.chmod(0o755)
    yield place
    shutil.rmtree(place)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_serve_creates_its_data_dir_and_files_private(open_place: Path):
    data = open_place / "fresh" / "data"
    with serving(data) as (base, _):
        assert httpx.get(f"{base}/health/ready").status_code == 200
    assert mode(data) == 0o700
    assert mode(data / "secrets.json") == 0o600
    assert mode(data / "turbocat.db") == 0o600
    for other in ("turbocat.db-wal", "turbocat.db-shm"):
        if (data / other).exists():
            assert mode(data / other) == 0o600


@pytest.mark.skipif(not ROOT, reason="without root only bubblewrap protects the server")
def test_serve_runs_code_without_bubblewrap_as_a_uid_that_cannot_touch_the_server(
    open_place: Path,
):
    data = open_place / "data"
    data.mkdir()
    data.chmod(0o755)  # as an older Turbocat (or a umask of 022) left it
    with serving(data, TURBOCAT_CODE_SANDBOX="none") as (base, server):
        client = Client(f"{base}/api/v1")
        config = {"runtime": "node", "code": "return {uid: process.getuid(), twice: inputs.n * 2}"}
        node = client.post("/agents", {"name": "node", "type": "CODE", "config": config})["id"]
        config = {"runtime": "python", "code": PROBE}
        probe = client.post("/agents", {"name": "probe", "type": "CODE", "config": config})["id"]
        paths = [
            f"/proc/{server.pid}/environ",
            str(data / "secrets.json"),
            str(data / "turbocat.db"),
            "/etc/shadow",
        ]
        steps = [
            {"stepKey": "node", "agentId": node, "inputs": {"n": 21}},
            {
                "stepKey": "probe",
                "agentId": probe,
                "inputs": {"server": server.pid, "paths": paths},
                "dependsOn": ["node"],
            },
        ]
        done = client.finished(client.execute(client.workflow(steps)), timeout=60)
        assert done["status"] == "COMPLETED", done
        assert server.poll() is None
        assert httpx.get(f"{base}/health/live").status_code == 200
    outputs = done["outputData"]
    assert outputs["node"]["result"]["twice"] == 42  # uvloop's subprocess API runs node
    assert outputs["node"]["result"]["uid"] != 0
    assert outputs["node"]["isolation"] in ("namespaces", "uid")
    probed = outputs["probe"]["result"]
    assert probed["uid"] != 0
    assert probed["server"] in ("PermissionError", "ProcessLookupError")
    assert probed["parent"] == "PermissionError" or outputs["probe"]["isolation"] == "namespaces"
    for path in paths:
        assert probed[path] in ("PermissionError", "FileNotFoundError"), (path, probed[path])
    assert mode(data) == 0o700
    assert "could be read by other users (mode 755): now 700" in server.stdout.read()
