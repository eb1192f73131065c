"""A three-step pipeline of Python functions, run in memory inside this program.

    python examples/embed_pipeline.py

`parse` reads CSV text into rows, `price` adds each row's total (an async function that
writes to the run's log), `summarize` totals them by region. The workflow is a plain dict
in the workflow-file format; each step names a function registered with `@tc.function`.
Nothing is written to disk: `Turbocat()` keeps everything in memory (docs/embedding.md).
"""

from __future__ import annotations

import asyncio
import csv
import io

from turbocat_adapters import Turbocat
from turbocat_core import FunctionContext

tc = Turbocat()

SALES = """region,item,quantity,unit_price
north,widget,3,2.50
south,gadget,1,12.00
north,gadget,2,12.00
east,widget,10,2.50
"""


@tc.function
def parse(inputs: dict, ctx: FunctionContext) -> list:
    """CSV text to a list of rows (a plain function: it runs in a worker thread)."""
    return list(csv.DictReader(io.StringIO(inputs["csv"])))


@tc.function
async def price(inputs: dict, ctx: FunctionContext) -> list:
    """Each row with its total (an async function: it runs on the event loop)."""
    rows = [
        {**row, "total": round(int(row["quantity"]) * float(row["unit_price"]), 2)}
        for row in inputs["rows"]
    ]
    await ctx.log(f"priced {len(rows)} rows")
    return rows


@tc.function
def summarize(inputs: dict, ctx: FunctionContext) -> dict:
    """The grand total and the total of each region."""
    by_region: dict[str, float] = {}
    for row in inputs["rows"]:
        by_region[row["region"]] = by_region.get(row["region"], 0) + row["total"]
    return {"total": round(sum(by_region.values()), 2), "byRegion": dict(sorted(by_region.items()))}


WORKFLOW = {
    "name": "Sales pipeline",
    "steps": [
        {"stepKey": "parse", "function": "parse", "inputs": {"csv": "{{inputs.csv}}"}},
        {
            "stepKey": "price",
            "function": "price",
            "dependsOn": ["parse"],
            "inputs": {"rows": "{{parse.output}}"},
        },
        {
            "stepKey": "summarize",
            "function": "summarize",
            "dependsOn": ["price"],
            "inputs": {"rows": "{{price.output}}"},
        },
    ],
}


async def main() -> None:
    async with tc:
        execution = await tc.run(WORKFLOW, inputs={"csv": SALES})
        print(f"{execution.status}: {execution.steps_completed} steps")
        summary = execution.output_data["summarize"]
        print(f"total {summary['total']}")
        for region, total in summary["byRegion"].items():
            print(f"  {region}: {total}")
        for line in await tc.logs(execution.id):
            if line.step_key == "price" and line.message.startswith("priced"):
                print(f"log: {line.message}")


if __name__ == "__main__":
    asyncio.run(main())
