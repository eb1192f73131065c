"""Durable runs on SQLite and PostgreSQL: a program killed with SIGKILL mid-run and started
again resumes the run without running its completed steps again; one embedded program at
a time per store; a workflow file imported once per store, not once per run."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.embedding.workflows import function_step, workflow
from turbocat_adapters import StoreInUse, Turbocat
from turbocat_core import ExecutionStatus

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = '''
"""A program embedding Turbocat: start (and block in step two), or resume and report."""
import asyncio, json, os, sys
from pathlib import Path

from turbocat_adapters import Turbocat

url, work = sys.argv[1], Path(sys.argv[2])
tc = Turbocat(url)


def called(name):
    with (work / "calls").open("a") as calls:  # one line per real call
        calls.write(name + "\\n")


@tc.function
def one(inputs, ctx):
    called("one")
    return {"n": inputs["n"] + 1}


@tc.function
async def two(inputs, ctx):
    called("two")
    if os.environ.get("BLOCK_IN_TWO"):
        (work / "in-two").write_text(str(os.getpid()))
        await asyncio.Event().wait()  # never set: this process is killed here
    await ctx.log("two done")
    return inputs["n"] * 10


@tc.function
def three(inputs, ctx):
    called("three")
    return inputs["n"] + 3


WORKFLOW = json.loads((work / "workflow.json").read_text())


async def main():
    async with tc:
        if sys.argv[3] == "start":
            execution = await tc.start(WORKFLOW, inputs={"n": 1})
            (work / "execution").write_text(str(execution.id))
            await tc.wait(execution.id)
        else:
            execution_id = (work / "execution").read_text()
            done = await tc.wait(execution_id, timeout=120)
            lines = [line.message for line in await tc.logs(execution_id)]
            print(json.dumps({"resumed": tc.resumed, "status": done.status,
                              "output": done.output_data, "lines": lines}))


asyncio.run(main())
'''

WORKFLOW = workflow(
    "durable",
    function_step("one", "one", inputs={"n": "{{inputs.n}}"}),
    function_step("two", "two", inputs={"n": "{{one.output.n}}"}, dependsOn=["one"]),
    function_step("three", "three", inputs={"n": "{{two.output}}"}, dependsOn=["two"]),
)


def wait_for(condition, what: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the program exited before {what}: {process.stderr.read()}")
        assert time.monotonic() < deadline, f"no {what} in {timeout} s"
        time.sleep(0.05)


def program(work: Path, url: str, mode: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(work / "program.py"), url, str(work), mode],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.slow
def test_a_run_killed_mid_step_resumes_when_the_program_starts_again(
    durable_url: str, tmp_path: Path
):
    (tmp_path / "program.py").write_text(PROGRAM)
    (tmp_path / "workflow.json").write_text(json.dumps(WORKFLOW))
    first = program(tmp_path, durable_url, "start", BLOCK_IN_TWO="1")
    try:
        wait_for((tmp_path / "in-two").exists, "step two under way", first)
        # One embedded program per store: this one is refused, naming the holder.
        with pytest.raises(StoreInUse) as refused:
            Turbocat(durable_url).run_sync(WORKFLOW)
        assert f"pid {first.pid}" in refused.value.message
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL
    assert (tmp_path / "calls").read_text().split() == ["one", "two"]

    second = program(tmp_path, durable_url, "resume")
    out, errors = second.communicate(timeout=180)
    assert second.returncode == 0, errors
    report = json.loads(out)
    assert report["resumed"] == 1
    assert report["status"] == "COMPLETED", report
    assert report["output"] == {"one": {"n": 2}, "two": 20, "three": 23}
    # Step one completed before the kill: not run again; two ran again; three once.
    assert (tmp_path / "calls").read_text().split() == ["one", "two", "two", "three"]
    resumed = [line for line in report["lines"] if line.startswith("execution resumed")]
    assert resumed, report["lines"]
    assert resumed[0].startswith("execution resumed after an interruption (1 steps already done)")
    assert report["lines"].count("two done") == 1


async def test_a_second_runtime_on_the_same_store_is_refused_until_the_first_closes(
    durable_url: str,
):
    first, second = Turbocat(durable_url), Turbocat(durable_url)
    async with first:
        with pytest.raises(StoreInUse) as refused:
            async with second:
                pass
        assert f"pid {os.getpid()}" in refused.value.message
        assert not second.is_open
    async with second:
        assert second.is_open


async def test_a_file_is_imported_once_per_store_even_by_a_new_program(
    durable_url: str,
):
    def runtime() -> Turbocat:
        tc = Turbocat(durable_url)

        @tc.function
        def one(inputs: dict, ctx) -> dict:
            return {"n": inputs["n"] + 1}

        @tc.function
        def two(inputs: dict, ctx) -> int:
            return inputs["n"] * 10

        @tc.function
        def three(inputs: dict, ctx) -> int:
            return inputs["n"] + 3

        return tc

    async with runtime() as tc:
        first = await tc.run(WORKFLOW, inputs={"n": 1})
        again = await tc.run(WORKFLOW, inputs={"n": 2})
    async with runtime() as tc:  # a program started again: same store, new runtime
        later = await tc.run(dict(reversed(list(WORKFLOW.items()))), inputs={"n": 3})
        changed = await tc.run({**WORKFLOW, "description": "edited"}, inputs={"n": 3})
    assert first.status is ExecutionStatus.COMPLETED, first.error_message
    assert later.output_data == {"one": {"n": 4}, "two": 40, "three": 43}
    assert first.workflow_id == again.workflow_id == later.workflow_id
    assert changed.workflow_id != first.workflow_id
