"""`turbocat serve|worker --functions` (and TURBOCAT_FUNCTIONS) as real processes: the
modules are imported in every server process, their functions run as FUNCTION steps, and a
module that cannot be imported stops the command in one line naming it."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.test_serve import PASSWORD, ROOT, environment, free_port, serving
from tests.function_modules import write_module, write_steps

pytestmark = pytest.mark.slow  # each test runs `turbocat` as a process


def register(base: str) -> dict[str, str]:
    body = {"email": f"f-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
    created = httpx.post(f"{base}/api/v1/auth/register", json=body)
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['data']['tokens']['accessToken']}"}


def post(base: str, path: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{base}/api/v1{path}", json=body, headers=headers, timeout=30)


def function_agent(base: str, headers: dict[str, str], name: str) -> httpx.Response:
    return post(
        base, "/agents", {"name": name, "type": "FUNCTION", "config": {"function": name}}, headers
    )


def finished(base: str, headers: dict[str, str], execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        response = httpx.get(f"{base}/api/v1/executions/{execution_id}", headers=headers)
        data: dict[str, Any] = response.json()["data"]
        if data["status"] not in ("PENDING", "RUNNING"):
            return data
        assert time.monotonic() < deadline, data
        time.sleep(0.05)


def command(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "turbocat_cli", *args],
        cwd=ROOT,
        env=environment(tmp_path / "data", **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_runs_the_functions_of_its_modules(tmp_path: Path):
    steps = write_steps(tmp_path / "code")
    env = {"TURBOCAT_DATABASE_URL": "memory://", "PYTHONPATH": steps.pythonpath()}
    with serving(tmp_path / "data", "--functions", steps.module, **env) as (base, process):
        headers = register(base)
        agent = function_agent(base, headers, steps.total)
        assert agent.status_code == 201, agent.text
        unknown = function_agent(base, headers, f"{steps.total}_not")
        assert unknown.status_code == 400
        assert unknown.json()["error"]["details"][0]["field"] == "config.function"
        workflow = post(
            base,
            "/workflows",
            {
                "name": "sum",
                "status": "ACTIVE",
                "steps": [
                    {
                        "stepKey": "add",
                        "agentId": agent.json()["data"]["id"],
                        "inputs": {"values": "{{inputs.values}}"},
                    }
                ],
            },
            headers,
        )
        assert workflow.status_code == 201, workflow.text
        started = post(
            base,
            f"/workflows/{workflow.json()['data']['id']}/execute",
            {"inputs": {"values": [4, 5]}},
            headers,
        )
        assert started.status_code == 202, started.text
        done = finished(base, headers, started.json()["data"]["id"])
        assert done["status"] == "COMPLETED", done
        assert done["outputData"] == {"add": {"sum": 9, "step": "add"}}
    assert f"functions: {steps.double}, {steps.total}" in (
        process.stdout.read() if process.stdout else ""
    )


def marks_of(directory: Path, module: str) -> set[int]:
    return {int(p.name.rsplit(".", 1)[1]) for p in directory.glob(f"{module}.*")}


def test_every_server_process_imports_the_modules(tmp_path: Path):
    """With ``--workers 2`` each server process imports them itself (uvicorn's workers read
    the settings from the environment: ``--functions`` reaches them as TURBOCAT_FUNCTIONS)."""
    steps = write_steps(tmp_path / "code")
    marks = tmp_path / "marks"
    env = {"PYTHONPATH": steps.pythonpath(), "FUNCTIONS_IMPORT_MARKS": str(marks)}
    with serving(tmp_path / "data", "--workers", "2", "--functions", steps.module, **env) as (
        base,
        process,
    ):
        deadline = time.monotonic() + 60
        while len(marks_of(marks, steps.module) - {process.pid}) < 2:
            assert time.monotonic() < deadline, marks_of(marks, steps.module)
            time.sleep(0.1)
        headers = register(base)
        # A connection per request: whichever process answers, it knows the function.
        for _ in range(6):
            created = function_agent(base, headers, steps.double)
            assert created.status_code == 201, created.text
        refused = function_agent(base, headers, "os.system")
        assert refused.status_code == 400, refused.text
    # The command itself (checking them before any worker starts) and its two workers.
    assert process.pid in marks_of(marks, steps.module)
    assert len(marks_of(marks, steps.module)) == 3


def test_the_option_wins_over_the_variable(tmp_path: Path):
    steps = write_steps(tmp_path / "code")
    env = {
        "TURBOCAT_DATABASE_URL": "memory://",
        "PYTHONPATH": steps.pythonpath(),
        "TURBOCAT_FUNCTIONS": "no_such_module_here",
    }
    with serving(tmp_path / "data", "--functions", steps.module, **env) as (base, _):
        headers = register(base)
        assert function_agent(base, headers, steps.double).status_code == 201


@pytest.mark.parametrize("via", ["option", "variable"])
@pytest.mark.parametrize("what", ["serve", "worker"])
def test_a_module_that_cannot_be_imported_stops_the_command_in_one_line(
    tmp_path: Path, via: str, what: str
):
    code = tmp_path / "code"
    broken = write_module(code, f"broken_{uuid.uuid4().hex[:8]}", "import no_such_dependency_q\n")
    steps = write_steps(code)
    modules = f"{steps.module},{broken}"
    env = {"PYTHONPATH": str(code)}
    args = [what, "--port", str(free_port())] if what == "serve" else [what, "--burst"]
    if what == "worker":  # the fleet's settings, checked before the modules: never reached
        env |= {
            "TURBOCAT_REDIS_URL": "redis://127.0.0.1:1/0",
            "TURBOCAT_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        }
    if via == "option":
        args += ["--functions", modules]
    else:
        env["TURBOCAT_FUNCTIONS"] = modules
    done = command(tmp_path, *args, **env)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: TURBOCAT_FUNCTIONS: module '{broken}' cannot be imported "
        "(ModuleNotFoundError: No module named 'no_such_dependency_q')"
    ]


def test_a_malformed_module_list_is_refused(tmp_path: Path):
    done = command(tmp_path, "serve", "--functions", "tasks,billing/steps.py")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: TURBOCAT_FUNCTIONS: 'billing/steps.py' is not a Python module name"
    )
    shown = command(tmp_path, "worker", "--help")
    assert "--functions" in shown.stdout
    assert "TURBOCAT_FUNCTIONS" in shown.stdout


def test_modules_in_the_current_directory_are_found(tmp_path: Path):
    """As with `python -m` (and uvicorn's app modules), the `turbocat` command finds a module
    in the directory it runs in without PYTHONPATH: here it finds it, and the module's own
    missing import is what it reports."""
    local = write_module(tmp_path, f"local_{uuid.uuid4().hex[:8]}", "import no_such_thing_r\n")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "turbocat"), "serve", "--functions", local],
        cwd=tmp_path,
        env=environment(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "No module named 'no_such_thing_r'" in done.stderr
