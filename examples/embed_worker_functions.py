"""Python functions for `turbocat serve` and `turbocat worker` to run as steps.

From the repository's root (the directory that holds `examples/`):

    turbocat serve --functions examples.embed_worker_functions
    turbocat worker --functions examples.embed_worker_functions

`--functions` imports modules as `python -m` finds them, the current directory first, so
no PYTHONPATH is needed there; from elsewhere, put the repository's root on PYTHONPATH
(`PYTHONPATH=/path/to/turbocat turbocat worker --functions examples.embed_worker_functions`),
or a module that cannot be imported stops the command in one line naming it.
`TURBOCAT_FUNCTIONS=examples.embed_worker_functions` does the same as the option. Every
process that may meet a step needs the same modules: the server, which refuses a FUNCTION
agent naming a function it has not registered, and each worker, which runs it.

Over HTTP, an agent of type FUNCTION with the config `{"function": "word_count"}` then runs
`word_count` below, and `WORKFLOW` below can be imported as a workflow file
(`POST /api/v1/workflows/import`): its steps name the functions (`"function": "top-words"`).

    python examples/embed_worker_functions.py

runs the same functions embedded, as a check (docs/embedding.md, "Functions in the server
and the fleet").
"""

from __future__ import annotations

import asyncio
import re

from turbocat_adapters import function
from turbocat_core import FunctionContext, NonRetryableError


@function
def word_count(inputs: dict, ctx: FunctionContext) -> dict:
    """How many times each word occurs in `inputs.text` (case-insensitive)."""
    text = inputs.get("text")
    if not isinstance(text, str):
        raise NonRetryableError("word_count needs a string 'text' input")
    counts: dict[str, int] = {}
    for word in re.findall(r"[a-z']+", text.lower()):
        counts[word] = counts.get(word, 0) + 1
    return counts


@function("top-words")
async def top_words(inputs: dict, ctx: FunctionContext) -> list:
    """The `inputs.n` most frequent words of a `word_count` output, most frequent first."""
    ranked = sorted(inputs["counts"].items(), key=lambda item: (-item[1], item[0]))
    await ctx.log(f"ranked {len(ranked)} words")
    return [word for word, _ in ranked[: int(inputs.get("n", 3))]]


WORKFLOW = {
    "name": "Top words",
    "steps": [
        {"stepKey": "count", "function": "word_count", "inputs": {"text": "{{inputs.text}}"}},
        {
            "stepKey": "top",
            "function": "top-words",
            "dependsOn": ["count"],
            "inputs": {"counts": "{{count.output}}", "n": 2},
        },
    ],
}


async def main() -> None:
    from turbocat_adapters import Turbocat

    async with Turbocat() as tc:
        text = "the cat saw the other cat and the dog"
        execution = await tc.run(WORKFLOW, inputs={"text": text})
        print(execution.status, execution.output_data["top"])


if __name__ == "__main__":
    asyncio.run(main())
