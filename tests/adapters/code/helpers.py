"""What the CODE runner tests share: the levels, a step runner, and finding processes."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from turbocat_adapters.code import SubprocessCodeRunner
from turbocat_core.agents.code_agent import CodeAgent
from turbocat_core.agents.contract import RunContext

LEVELS: dict[str, dict[str, Any]] = {
    "bubblewrap": {"sandbox": "bubblewrap"},
    "namespaces": {"sandbox": "none"},
    "uid": {"sandbox": "none", "namespaces": False},
}
"""How to get each level (as root; ``namespaces`` where ``unshare`` works)."""

HAVE_NODE = shutil.which("node") is not None
ROOT = os.geteuid() == 0
CTX = RunContext(
    execution_id=uuid4(),  # type: ignore[arg-type]
    workflow_id=uuid4(),  # type: ignore[arg-type]
    user_id=uuid4(),  # type: ignore[arg-type]
    step_key="code",
)
needs_node = pytest.mark.skipif(not HAVE_NODE, reason="node is not installed")


async def run(
    runner: SubprocessCodeRunner,
    runtime: str,
    code: str,
    inputs: dict[str, Any] | None = None,
    *,
    timeout: float = 2,
    memory: int = 128,
) -> dict[str, Any]:
    config = {"runtime": runtime, "code": code, "timeoutSeconds": timeout, "memoryMb": memory}
    return await CodeAgent(runner).execute(None, config, inputs or {}, CTX)  # type: ignore[arg-type]


def marker() -> str:
    """A unique ``sleep`` argument (a number of seconds) to find a process by."""
    return f"60.{uuid4().int % 10**9}"


def marked_processes(mark: str) -> list[int]:
    """Pids of live processes whose command line holds ``mark``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if mark.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


async def gone(mark: str, within: float = 10.0) -> list[int]:
    """Waits until no process holds ``mark``; those still there after ``within`` s."""
    deadline = time.monotonic() + within
    while (left := marked_processes(mark)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return left


READ_PATHS = """
for path in inputs["paths"]:
    try:
        with open(path, "rb") as file:
            out[path] = "read " + file.read(40).decode("latin-1")
    except OSError as error:
        out[path] = type(error).__name__
result = out
"""
"""Tries to read each of ``inputs["paths"]`` into ``out``; expects ``out`` to exist."""
