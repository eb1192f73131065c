"""Python functions for `turbocat serve` and `turbocat worker` to run as steps.

From the repository's root (the directory that holds `examples/`), so that the module
`examples.embed_worker_functions` can be imported:

    PYTHONPATH=. turbocat serve --functions examples.embed_worker_functions
    PYTHONPATH=. turbocat worker --functions examples.embed_worker_functions

(`TURBOCAT_FUNCTIONS=examples.embed_worker_functions` does the same as `--functions`.)
Every process that may run a step needs the same modules: the server, which checks that a
FUNCTION agent names a registered function, and each worker, which runs it. Over HTTP,
an agent of type FUNCTION with the config `{"function": "word_count"}` then runs
`word_count` below; a workflow file's step says `function: word_count`.

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
