"""FUNCTION steps in the fleet: `turbocat worker --functions` runs them; a worker started
without the module fails the step at once, without retry, naming the function and itself."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.fleet import Client, Fleet
from tests.function_modules import write_steps

pytestmark = pytest.mark.slow


def function_agent(client: Client, name: str) -> str:
    body = {"name": name, "type": "FUNCTION", "config": {"function": name}}
    return str(client.post("/agents", body)["id"])


def started_lines(client: Client, execution_id: str, key: str) -> list[dict[str, Any]]:
    return [
        line
        for line in client.logs(execution_id)
        if line["stepKey"] == key and line["message"] == f"step '{key}' started"
    ]


def test_workers_run_the_functions_of_their_modules_and_only_those(fleet: Fleet, tmp_path: Path):
    steps = write_steps(tmp_path / "code")
    fleet.env["PYTHONPATH"] = steps.pythonpath()
    base = fleet.server("--functions", steps.module)
    equipped = fleet.worker(4, "--functions", steps.module)
    assert f"functions: {steps.double}, {steps.total}" in fleet.log_of(equipped)
    client = Client(base)
    double, total = function_agent(client, steps.double), function_agent(client, steps.total)
    workflow = client.workflow(
        [
            {"stepKey": "twice", "agentId": double, "inputs": {"n": "{{inputs.n}}"}},
            {
                "stepKey": "add",
                "agentId": total,
                "inputs": {"values": "{{inputs.values}}"},
                "dependsOn": ["twice"],
            },
        ]
    )
    execution_id = client.execute(workflow, {"n": 4, "values": [1, 2]})
    done = client.finished(execution_id)
    assert done["status"] == "COMPLETED", done
    assert done["outputData"] == {"twice": {"n": 8, "attempt": 1}, "add": {"sum": 3, "step": "add"}}
    assert "adding 2 values" in [line["message"] for line in client.logs(execution_id)]

    # The same workflow on a worker that was not given the module: the first step fails
    # once, without the three retries it allows, naming the function and that worker.
    Fleet.kill(equipped, signal.SIGTERM)  # a clean stop: it hands nothing back
    bare = fleet.worker(4)
    retried = client.workflow(
        [
            {
                "stepKey": "twice",
                "agentId": double,
                "inputs": {"n": 1},
                "retryCount": 3,
                "retryDelayMs": 10,
            }
        ]
    )
    execution_id = client.execute(retried)
    failed = client.finished(execution_id)
    assert failed["status"] == "FAILED", failed
    (run,) = failed["stepRuns"]
    assert run["status"] == "FAILED" and run["attempt"] == 1, run
    where = re.fullmatch(
        rf"function '{steps.double}' is not registered in this process \((.+)\)", run["error"]
    )
    assert where is not None, run["error"]
    assert where.group(1).split(":")[1] == str(bare.pid)  # <host>:<pid>:<random>: this worker
    assert f"-{where.group(1).rsplit(':', 1)[1]} ready" in fleet.log_of(bare)
    assert len(started_lines(client, execution_id, "twice")) == 1
