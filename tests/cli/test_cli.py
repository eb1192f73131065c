"""The `turbocat` command as a user runs it: a real process, its output and exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.running import Turbocat

pytestmark = pytest.mark.slow  # each test runs `turbocat` as a process

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def turbocat(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "turbocat_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd or ROOT,
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_example_validates_and_runs(example):
    checked = turbocat("validate", f"examples/{example}")
    assert checked.returncode == 0, checked.stderr
    assert "valid" in checked.stdout
    ran = turbocat("run", f"examples/{example}", "--json")
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert len(lines) == 1
    execution = json.loads(lines[0])
    assert execution["status"] == "COMPLETED"
    assert execution["stepsCompleted"] > 0 and execution["durationMs"] >= 0


def test_run_prints_outputs_and_progress():
    ran = turbocat("run", "examples/etl-diamond.yaml")
    assert ran.returncode == 0
    assert ran.stdout.startswith("COMPLETED")
    assert '"north": 162.5' in ran.stdout
    assert "✔ report completed" in ran.stderr  # progress, one line per step when not a terminal


def test_run_writes_times_with_z_and_durations_to_the_microsecond():
    ran = turbocat("run", "examples/etl-diamond.yaml", "examples/fan-out-loop.yaml", "--json")
    assert ran.returncode == 0, ran.stderr
    for line in ran.stdout.splitlines():
        execution = json.loads(line)
        times = [execution["createdAt"], execution["startedAt"], execution["completedAt"]]
        times += [step["createdAt"] for step in execution["steps"]]
        assert all(time.endswith("Z") and "+00:00" not in time for time in times), times
        assert len(repr(float(execution["durationMs"])).partition(".")[2]) <= 3, execution


def test_run_takes_inputs_inline_or_from_a_file(tmp_path):
    refund = {"refund": {"id": "R-9", "amount": 900, "customer": {"tier": "silver"}}}
    inline = turbocat("run", "examples/branch-join.yaml", "--json", "--input", json.dumps(refund))
    from_file = turbocat(
        "run",
        "examples/branch-join.yaml",
        "--json",
        "--input",
        f"@{write(tmp_path, 'i.json', json.dumps(refund))}",
    )
    for ran in (inline, from_file):
        out = json.loads(ran.stdout)["outputData"]
        assert out["reply"] == {"refund": "R-9", "decision": "needs review", "queue": "finance"}
        assert "auto_approve" not in out


def test_a_cycle_is_named(tmp_path):
    path = write(
        tmp_path,
        "cycle.json",
        json.dumps(
            {
                "name": "loop",
                "agents": {"a": {"type": "DATA", "config": {"operation": "unique"}}},
                "steps": [
                    {"stepKey": "a", "agent": "a", "dependsOn": ["c"]},
                    {"stepKey": "b", "agent": "a", "dependsOn": ["a"]},
                    {"stepKey": "c", "agent": "a", "dependsOn": ["b"]},
                ],
            }
        ),
    )
    result = turbocat("validate", str(path))
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {path}: steps form a cycle: a -> b -> c -> a"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nsteps: [\n", "invalid YAML"),
        (
            "name: x\nagents: {a: {type: DATA, config: {operation: nope}}}\n"
            "steps: [{stepKey: s, agent: a}]\n",
            "agents.a.config.operation: unknown operation 'nope'",
        ),
        (
            "name: x\nsteps: [{stepKey: s, agent: ghost}]\n",
            "steps.0.agent: names no agent of this file: 'ghost'",
        ),
        (
            "name: x\nagents: {}\n"
            "steps: [{stepKey: s, stepType: WAIT, config: {durationMs: 1}, colour: red}]\n",
            "steps.0.colour: unknown field",
        ),
    ],
)
def test_bad_files_get_one_line_naming_the_problem(tmp_path, text, expected):
    result = turbocat("validate", str(write(tmp_path, "bad.yaml", text)))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert expected in result.stderr


def test_validate_names_every_problem_and_the_closest_known_name(tmp_path):
    text = (
        "name: x\nagents: {approve: {type: DATA, config: {operation: unique}}}\nsteps:\n"
        "  - {stepKey: extract, agent: aprove, dependson: []}\n"
        "  - {stepKey: load, agent: approve, dependsOn: [extrct]}\n"
    )
    path = write(tmp_path, "typos.yaml", text)
    result = turbocat("validate", str(path), "examples/etl-diamond.yaml")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {path}: steps.0.dependson: unknown field; did you mean 'dependsOn'?",
        f"error: {path}: steps.0.agent: names no agent of this file: 'aprove'; "
        "did you mean 'approve'?",
        f"error: {path}: steps.1.dependsOn: step 'load' depends on unknown step 'extrct'; "
        "did you mean 'extract'?",
    ]
    assert result.stdout == "examples/etl-diamond.yaml: valid (4 steps, 4 agents)\n"


def test_run_takes_several_files_and_sums_them_up(tmp_path):
    examples = sorted(f"examples/{p.name}" for p in EXAMPLES.glob("*.yaml"))
    ran = turbocat("run", *examples)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.count("COMPLETED in ") == len(examples)
    assert ran.stdout.splitlines()[-1] == f"{len(examples)} of {len(examples)} files completed"

    missing = tmp_path / "missing.yaml"
    mixed = turbocat("run", "examples/etl-diamond.yaml", str(missing), "examples/fan-out-loop.yaml")
    assert mixed.returncode == 1
    assert f"error: {missing}: no such file" in mixed.stderr
    assert mixed.stdout.count("COMPLETED in ") == 2  # the file after the bad one ran too
    assert (
        mixed.stdout.splitlines()[-1]
        == f"2 of 3 files completed; not completed: {missing} (INVALID)"
    )

    as_json = turbocat("run", *examples, "--json")
    assert [json.loads(line)["status"] for line in as_json.stdout.splitlines()] == [
        "COMPLETED"
    ] * len(examples)


def test_bad_command_line_input_is_one_line(tmp_path):
    missing = turbocat("run", "nowhere.yaml")
    assert (missing.returncode, missing.stderr.strip()) == (1, "error: nowhere.yaml: no such file")
    bad_input = turbocat("run", "examples/etl-diamond.yaml", "--input", "[1, 2]")
    assert bad_input.returncode == 1 and "must be a JSON object" in bad_input.stderr


def test_a_failed_run_exits_1_with_the_reason(tmp_path):
    path = write(
        tmp_path,
        "fails.yaml",
        (
            "name: fails\n"
            "agents: {pick: {type: DATA, config: "
            "{operation: filter, field: a, operator: eq, value: 1}}}\n"
            "steps: [{stepKey: s, agent: pick, inputs: {data: not-a-list}}]\n"
        ),
    )
    result = turbocat("run", str(path))
    assert result.returncode == 1
    assert result.stdout.startswith("FAILED")
    assert "step 's' failed" in result.stdout


def test_an_api_step_the_ssrf_guard_refuses_fails_clearly(tmp_path):
    path = write(
        tmp_path,
        "api.yaml",
        (
            "name: api\nagents: {call: {type: API, config: {url: 'http://127.0.0.1:9/'}}}\n"
            "steps: [{stepKey: s, agent: call}]\n"
        ),
    )
    result = turbocat("run", str(path), "--json")
    assert result.returncode == 1
    message = json.loads(result.stdout)["errorMessage"]
    assert "refused: 127.0.0.1 is a loopback address (SSRF guard)" in message


def test_ctrl_c_cancels_the_run(tmp_path):
    path = write(
        tmp_path,
        "slow.yaml",
        (
            "name: slow\nagents: {}\nsteps:\n"
            "  - {stepKey: ready, stepType: WAIT, config: {durationMs: 1}}\n"
            "  - {stepKey: first, stepType: WAIT, dependsOn: [ready],"
            " config: {durationMs: 600000}}\n"
            "  - {stepKey: second, stepType: WAIT, dependsOn: [first], config: {durationMs: 1}}\n"
        ),
    )
    run = Turbocat("run", str(path))
    run.wait_for("✔ ready completed")  # the run is under way (progress: one line per step)
    run.interrupt()
    # It ends at all, so the 10-minute wait was interrupted (a deadline, not a measure).
    assert run.finish(timeout=120) == 1, run.stderr
    assert run.stdout.startswith("CANCELLED"), run.stdout
    assert "cancelling... (Ctrl-C again to quit at once)" in run.stderr
    assert "Traceback" not in run.stderr


def test_help_and_version():
    assert "validate" in turbocat("--help").stdout
    for command in ("run", "validate"):
        assert turbocat(command, "--help").returncode == 0
    assert turbocat("--version").stdout.startswith("turbocat 0.1.0")
