"""The testing kit's speed: generated workflows run per second, and time that skips.

Figures on one core (the process is pinned to CPU 0 where the system allows it):

  - generated 10-step workflows executed per second: workflows drawn from
    ``workflows(min_steps=10, max_steps=10)`` beforehand, each run to its end with
    ``tc.run_sync(w)`` on one ``Turbocat.for_tests()`` runtime (import and run);
  - the same end to end, as a user's property runs: a Hypothesis ``@given`` drawing and
    running each (Hypothesis's own cost included), and the drawing alone beside it;
  - the wall time of docs/testing.md's long example: a 1-hour WAIT, then a function that
    fails three times with 10-minute retry delays, on the time-skipping clock (median).

Targets: at least 200 generated workflows executed per second; the long example under
0.2 s.

    python benchmarks/testing.py [--examples 500] [--rounds 7]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0:1] = [str(ROOT)]

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

from turbocat_adapters import Turbocat
from turbocat_adapters.testing.strategies import workflows

STEPS = 10
HOUR_MS = 3_600_000


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def pinned() -> str:
    try:
        os.sched_setaffinity(0, {0})
    except (AttributeError, OSError):
        return "not pinned"
    return "pinned to CPU 0"


def over_workflows(examples: int, body: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
    """A ``@given`` property calling ``body`` on ``examples`` drawn 10-step workflows."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )(given(workflows(min_steps=STEPS, max_steps=STEPS))(body))


def per_second(examples: int, run: bool) -> tuple[float, int]:
    """Examples per second of a @given over 10-step workflows; with ``run``, each is run."""
    tc = Turbocat.for_tests()
    seen = 0

    def example(workflow: dict[str, Any]) -> None:
        nonlocal seen
        seen += 1
        if run:
            execution = tc.run_sync(workflow)
            assert execution.status.finished, execution.status

    prop = over_workflows(examples, example)
    began = time.perf_counter()
    prop()
    return seen / (time.perf_counter() - began), seen


def executed_per_second(examples: int) -> float:
    """Workflows drawn first, then run: the kit's side of a property's cost."""
    drawn: list[dict[str, Any]] = []

    def keep(workflow: dict[str, Any]) -> None:
        drawn.append(workflow)

    over_workflows(examples, keep)()
    tc = Turbocat.for_tests()
    began = time.perf_counter()
    for workflow in drawn:
        assert tc.run_sync(workflow).status.finished
    return len(drawn) / (time.perf_counter() - began)


def long_example() -> float:
    tc = Turbocat.for_tests()
    calls = 0

    @tc.function
    def flaky(inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls % 4:
            raise RuntimeError("not yet")
        return {"calls": calls}

    workflow = {
        "name": "an hour and retries",
        "timeoutSeconds": 4 * 3600,
        "steps": [
            {"stepKey": "wait", "stepType": "WAIT", "config": {"durationMs": HOUR_MS}},
            {
                "stepKey": "work",
                "function": "flaky",
                "dependsOn": ["wait"],
                "retryCount": 3,
                "retryDelayMs": 600_000,
            },
        ],
    }
    began = time.perf_counter()
    execution = tc.run_sync(workflow)
    wall = time.perf_counter() - began
    assert execution.status.value == "COMPLETED", execution.status
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"testing kit, {pinned()}, load average {load()} at the start")
    per_second(20, run=True)  # warm-up: imports, first workflows
    executed = executed_per_second(args.examples)
    drawn, _ = per_second(args.examples, run=False)
    ran, count = per_second(args.examples, run=True)
    print(f"  generated {STEPS}-step workflows executed: {executed:7.1f} /s (target >= 200)")
    print(f"  drawn and run by @given, end to end: {ran:7.1f} /s over {count}")
    print(f"  drawn only, by @given: {drawn:7.1f} /s")
    walls = [long_example() for _ in range(args.rounds)]
    median = statistics.median(walls)
    print(f"  1-hour WAIT + 3 retries of 10 min: {median * 1000:7.1f} ms wall (target < 200 ms)")
    print(f"load average {load()} at the end")


if __name__ == "__main__":
    main()
