"""Modules of ``@function``s written for a test: unique names (one registry per process, so
tests must not reuse a name), in a directory a subprocess gets on its ``PYTHONPATH``."""

from __future__ import annotations

import os
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

STEPS = '''
"""Steps for FUNCTION agents: {tag}."""
import os
from pathlib import Path

from turbocat_adapters import function

# Each import leaves a mark (the process's pid), so tests can see which processes import it.
if os.environ.get("FUNCTIONS_IMPORT_MARKS"):
    marks = Path(os.environ["FUNCTIONS_IMPORT_MARKS"])
    marks.mkdir(exist_ok=True)
    (marks / f"{{__name__}}.{{os.getpid()}}").touch()


@function("double_{tag}")
def double(inputs, ctx):
    return {{"n": inputs["n"] * 2, "attempt": ctx.attempt}}


@function("total_{tag}")
async def total(inputs, ctx):
    await ctx.log(f"adding {{len(inputs['values'])}} values")
    return {{"sum": sum(inputs["values"]), "step": ctx.step_key}}
'''


@dataclass(frozen=True)
class Steps:
    """A module of steps (``double``: ``{"n": n * 2, "attempt": ...}``; ``total``:
    ``{"sum": ..., "step": ...}`` after one log line), and its functions' names."""

    module: str
    directory: Path

    @property
    def tag(self) -> str:
        return self.module.removeprefix("steps_")

    @property
    def double(self) -> str:
        return f"double_{self.tag}"

    @property
    def total(self) -> str:
        return f"total_{self.tag}"

    def pythonpath(self) -> str:
        """``PYTHONPATH`` for a subprocess that must find this module."""
        return os.pathsep.join(p for p in (str(self.directory), os.environ.get("PYTHONPATH")) if p)


def write_steps(directory: Path) -> Steps:
    tag = uuid.uuid4().hex[:10]
    module = write_module(directory, f"steps_{tag}", STEPS.format(tag=tag))
    return Steps(module, directory)


def write_module(directory: Path, name: str, source: str) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.py").write_text(textwrap.dedent(source).lstrip())
    return name
