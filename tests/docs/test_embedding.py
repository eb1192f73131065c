"""docs/embedding.md and examples/embed_*.py, run as a reader runs them: each python block of
the page as a program of its own (the conventions are in the page's top comment), each
example as ``python examples/NAME.py``, asserting on what they print."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.test_serve import PASSWORD, serving
from tests.databases import require_postgres, temporary_database
from tests.docs.pages import ROOT, Block, read_blocks

PAGE = ROOT / "docs" / "embedding.md"
MARKERS = ("not run", "file", "output", "needs")


def python(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def assert_prints(ran: subprocess.CompletedProcess[str], expected: str, where: str) -> None:
    printed = [line.rstrip() for line in ran.stdout.splitlines()]
    for line in expected.splitlines():
        assert line.rstrip() in printed, f"{where} should print {line!r}; it printed:\n{ran.stdout}"


def run_block(block: Block, expected: Block | None, cwd: Path, env: dict[str, str] | None = None):
    script = cwd / f"block_{block.line}.py"
    script.write_text(block.text)
    ran = python(script.name, cwd=cwd, env=env)
    assert ran.returncode == 0, f"{block.where} failed:\n{ran.stdout}\n{ran.stderr}"
    if expected is not None:
        assert_prints(ran, expected.text, block.where)


def runnable(blocks: list[Block]) -> list[tuple[Block, Block | None]]:
    """Each python block meant to run, with the output block after it (if any)."""
    pairs = []
    for index, block in enumerate(blocks):
        if block.language == "python" and block.marker != "not run":
            after = blocks[index + 1] if index + 1 < len(blocks) else None
            pairs.append((block, after if after is not None and after.marker == "output" else None))
    return pairs


def test_the_page_marks_its_blocks_as_its_top_comment_says():
    blocks = read_blocks(PAGE)
    assert [b.marker for b in blocks if b.marker not in (None, *MARKERS)] == []
    for index, block in enumerate(blocks):
        if block.marker == "output":
            assert block.language == "text", block.where
            assert blocks[index - 1].language == "python", f"{block.where}: output of what?"
        if block.marker == "file":
            assert block.argument, f"{block.where}: a file needs a name"
        if block.marker == "needs":
            assert block.argument == "postgres", block.where
    pairs = runnable(blocks)
    assert len(pairs) >= 10
    assert any(block.marker == "needs" for block, _ in pairs)
    assert sum(expected is not None for _, expected in pairs) >= 8


BLOCKS = read_blocks(PAGE)
RUNNABLE = runnable(BLOCKS)


def cases(postgres: bool) -> list[Any]:
    """The runnable blocks (with or without those that need PostgreSQL), by line."""
    return [
        pytest.param(block, expected, id=f"line {block.line}")
        for block, expected in RUNNABLE
        if (block.marker == "needs") == postgres
    ]


def files_above(block: Block, cwd: Path) -> None:
    """Write each ``file:`` block of the page above ``block`` into ``cwd``."""
    for earlier in BLOCKS:
        if earlier.line > block.line:
            return
        if earlier.marker == "file":
            (cwd / str(earlier.argument)).write_text(earlier.text)


@pytest.mark.slow
@pytest.mark.parametrize(("block", "expected"), cases(postgres=False))
def test_each_python_block_of_the_page_runs_and_prints_what_the_page_says(
    tmp_path, block, expected
):
    files_above(block, tmp_path)
    run_block(block, expected, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(("block", "expected"), cases(postgres=True))
def test_each_postgres_block_of_the_page_runs_on_a_new_database(tmp_path, block, expected):
    require_postgres()
    files_above(block, tmp_path)
    with temporary_database("turbocat_docs") as dsn:
        run_block(block, expected, tmp_path, env={"DATABASE_URL": dsn})


# --- the examples ----------------------------------------------------------------------


def test_the_readme_tries_the_embedded_pipeline_as_the_next_test_runs_it():
    commands = re.findall(r"^python (examples/\S+)$", (ROOT / "README.md").read_text(), re.M)
    assert commands == ["examples/embed_pipeline.py"]


@pytest.mark.slow
def test_embed_pipeline_runs_three_functions_in_memory():
    ran = python("examples/embed_pipeline.py", cwd=ROOT)
    assert ran.returncode == 0, ran.stderr
    assert_prints(
        ran,
        "COMPLETED: 3 steps\ntotal 68.5\n  east: 25.0\n  north: 31.5\n  south: 12.0\n"
        "log: priced 4 rows",
        "examples/embed_pipeline.py",
    )


@pytest.mark.slow
def test_serve_runs_the_example_functions_with_the_command_its_docstring_gives(tmp_path):
    """``turbocat serve --functions examples.embed_worker_functions`` from the repository's
    root; over HTTP, the module's workflow (its steps name the functions) imports and runs."""
    document = python(
        "-c",
        "import json, examples.embed_worker_functions as m; print(json.dumps(m.WORKFLOW))",
        cwd=ROOT,
    )
    assert document.returncode == 0, document.stderr
    module = "examples.embed_worker_functions"
    with serving(tmp_path / "data", "--functions", module, TURBOCAT_DATABASE_URL="memory://") as (
        base,
        process,
    ):
        account = {"email": "docs@example.com", "password": PASSWORD}
        registered = httpx.post(f"{base}/api/v1/auth/register", json=account, timeout=30)
        assert registered.status_code == 201, registered.text
        token = registered.json()["data"]["tokens"]["accessToken"]
        headers = {"Authorization": f"Bearer {token}"}
        imported = httpx.post(
            f"{base}/api/v1/workflows/import?status=ACTIVE",
            content=document.stdout,
            headers={**headers, "Content-Type": "application/json"},
            timeout=30,
        )
        assert imported.status_code == 201, imported.text
        text = "the cat saw the other cat and the dog"
        started = httpx.post(
            f"{base}/api/v1/workflows/{imported.json()['data']['id']}/execute",
            json={"inputs": {"text": text}},
            headers=headers,
            timeout=30,
        )
        assert started.status_code == 202, started.text
        execution = f"{base}/api/v1/executions/{started.json()['data']['id']}"
        deadline = time.monotonic() + 60
        while (done := httpx.get(execution, headers=headers, timeout=30).json()["data"])[
            "status"
        ] in ("PENDING", "RUNNING"):
            assert time.monotonic() < deadline, done
            time.sleep(0.05)
        assert done["status"] == "COMPLETED", done
        assert done["outputData"]["top"] == ["the", "cat"]
    assert "functions: top-words, word_count" in (process.stdout.read() if process.stdout else "")


@pytest.mark.slow
def test_embed_worker_functions_run_embedded():
    ran = python("examples/embed_worker_functions.py", cwd=ROOT)
    assert ran.returncode == 0, ran.stderr
    assert_prints(ran, "COMPLETED ['the', 'cat']", "examples/embed_worker_functions.py")


class Program:
    """``python SCRIPT`` whose stdout the test reads line by line as it comes."""

    def __init__(self, script: Path, cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(script)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 120) -> None:
        """Read lines until one holds ``text``; fail if the program ends or time runs out."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.seen):
            try:
                self.seen.append(self.lines.get(timeout=1.0))
            except queue.Empty:
                printed = "".join(self.seen)
                assert self.process.poll() is None, f"ended without {text!r}:\n{printed}"
                assert time.monotonic() < deadline, f"no {text!r} in {timeout} s:\n{printed}"


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_embed_durable_resumes_a_run_whose_program_was_stopped(tmp_path, stop):
    script = ROOT / "examples" / "embed_durable.py"
    first = Program(script, tmp_path, {"EMBED_DURABLE_SECONDS": "60"})
    try:
        first.wait_for("crunch: running (attempt 1)")
    finally:
        first.process.send_signal(stop)
        first.process.wait(60)
    assert any("download: running (attempt 1)" in line for line in first.seen)
    if stop == signal.SIGINT:
        first.wait_for("stopped: start me again to resume the run")

    second = python(str(script), cwd=tmp_path, env={"EMBED_DURABLE_SECONDS": "0.2"})
    assert second.returncode == 0, second.stderr
    assert "download: running" not in second.stdout  # completed before the stop: kept
    assert "crunch: running (attempt 2) for 0.2 s" in second.stdout  # was running: again
    assert_prints(
        second,
        "publish: running (attempt 1)\nCOMPLETED: the sum of squares is 385",
        "the second start of examples/embed_durable.py",
    )
    assert re.search(r"^resuming run \S+ \(1 steps done\)$", second.stdout, re.MULTILINE)
    resumed = "log: execution resumed after an interruption (1 steps already done)"
    assert resumed in second.stdout
    # A crash counts against the run's bound of recoveries; a clean stop does not.
    assert ("processing failed 1 time" in second.stdout) == (stop == signal.SIGKILL)

    third = python(str(script), cwd=tmp_path, env={"EMBED_DURABLE_SECONDS": "0"})
    assert third.returncode == 0, third.stderr
    assert "started run" in third.stdout and "download: running (attempt 1)" in third.stdout


@pytest.mark.slow
def test_embed_durable_ends_a_run_killed_twice_instead_of_resuming_it_again(tmp_path):
    script = ROOT / "examples" / "embed_durable.py"
    for attempt in (1, 2):
        program = Program(script, tmp_path, {"EMBED_DURABLE_SECONDS": "60"})
        try:
            program.wait_for(f"crunch: running (attempt {attempt})")
        finally:
            program.process.send_signal(signal.SIGKILL)
            program.process.wait(60)
    third = python(str(script), cwd=tmp_path, env={"EMBED_DURABLE_SECONDS": "0"})
    assert third.returncode == 0, third.stderr
    assert "crunch: running" not in third.stdout
    assert_prints(
        third,
        "FAILED: processing failed 2 times (last: the process running it stopped before it "
        "finished); the run was stopped so it does not loop",
        "the third start of examples/embed_durable.py",
    )
