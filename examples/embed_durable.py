"""A durable run on SQLite: kill the program in the middle, start it again, it goes on.

    python examples/embed_durable.py      # prints each step as it runs; the second is slow
    # while "crunch" works, kill it: `kill -9 <pid>` from another shell, or close the terminal
    python examples/embed_durable.py      # resumes the same run: "download" is not run again

Runs are kept in `.turbocat/embed_durable.db` under the current directory. The first
start begins a run of three steps (download, crunch, publish) and notes its id in
`.turbocat/embed_durable.id`. When that run is unfinished, the next start does not begin
another: `async with tc:` has already resumed it, and the program waits for it. Steps that
completed before the kill keep their output and are not called again; the step that was
running when the process died runs again from its start (attempt 2), so a step must be
safe to run twice. When the run has finished, the next start begins a new one. Delete
`.turbocat/embed_durable.*` to start afresh.

Ctrl-C is not a crash: the program stops the run cleanly and the next start resumes it the
same way. A run killed twice is not resumed a third time: the next start ends it FAILED
(`max_run_recoveries`, 2 by default: docs/embedding.md, "What is durable and what is not").
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from turbocat_adapters import Turbocat
from turbocat_core import ExecutionStatus, FunctionContext

HERE = Path(".turbocat")
HERE.mkdir(exist_ok=True)
RUN_ID = HERE / "embed_durable.id"
SECONDS = float(os.environ.get("EMBED_DURABLE_SECONDS", "5"))
"""How long "crunch" works: time to kill the program."""

tc = Turbocat("sqlite:///.turbocat/embed_durable.db")


def say(text: str) -> None:
    print(text, flush=True)


@tc.function
def download(inputs: dict, ctx: FunctionContext) -> list:
    say(f"download: running (attempt {ctx.attempt})")
    return list(range(1, 11))


@tc.function
async def crunch(inputs: dict, ctx: FunctionContext) -> int:
    say(f"crunch: running (attempt {ctx.attempt}) for {SECONDS:g} s: `kill -9 {os.getpid()}` now")
    for tick in range(10):
        await asyncio.sleep(SECONDS / 10)  # the slow part of the job
        await ctx.log(f"crunched {tick + 1}/10")
    return sum(n * n for n in inputs["numbers"])


@tc.function
def publish(inputs: dict, ctx: FunctionContext) -> str:
    say(f"publish: running (attempt {ctx.attempt})")
    return f"the sum of squares is {inputs['result']}"


WORKFLOW = {
    "name": "Durable job",
    "steps": [
        {"stepKey": "download", "function": "download"},
        {
            "stepKey": "crunch",
            "function": "crunch",
            "dependsOn": ["download"],
            "inputs": {"numbers": "{{download.output}}"},
        },
        {
            "stepKey": "publish",
            "function": "publish",
            "dependsOn": ["crunch"],
            "inputs": {"result": "{{crunch.output}}"},
        },
    ],
}


async def main() -> None:
    async with tc:  # opens the file, migrates it, resumes what a killed process left running
        execution = None
        if RUN_ID.exists():
            execution = await tc.get(RUN_ID.read_text().strip())
            if execution.status.finished:
                execution = None
            else:
                say(f"resuming run {execution.id} ({execution.steps_completed} steps done)")
        if execution is None:
            execution = await tc.start(WORKFLOW)
            RUN_ID.write_text(str(execution.id))
            say(f"started run {execution.id}")
        finished = await tc.wait(execution.id)
        if finished.status is ExecutionStatus.COMPLETED:
            say(f"{finished.status}: {finished.output_data['publish']}")
        else:
            say(f"{finished.status}: {finished.error_message}")
        for line in await tc.logs(execution.id):
            if "resumed" in line.message:
                say(f"log: {line.message}")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # Ctrl-C: `async with tc:` has stopped the run cleanly
        say("stopped: start me again to resume the run")
