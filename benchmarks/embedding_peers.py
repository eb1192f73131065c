"""The peers' side of benchmarks/embedding.py: DBOS and Prefect running the same chain.

Run by benchmarks/embedding.py in a subprocess, with the Python of a separate virtual
environment that has `dbos` and `prefect` (so their dependencies never meet ours):

    python -m venv .peers && .peers/bin/pip install dbos prefect 'psycopg[binary]'
    .peers/bin/python benchmarks/embedding_peers.py dbos --url sqlite:///x.db --steps 100 --runs 5

Prints one JSON line: {"peer", "version", "steps", "seconds", "cpu"} (wall and CPU seconds
of this process, one per timed run). Each measurement is one warm-up run, then ``--runs``
timed runs of the whole workflow.
"""

from __future__ import annotations

import sys

# Run as a script: this folder leads sys.path, and its queue.py would hide the standard
# library's `queue` (which the peers import). Nothing here imports from the repository.
del sys.path[0]

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any


def add_one(value: int) -> int:
    return value + 1


Timings = tuple[list[float], list[float]]
"""Each timed run's wall seconds, and the CPU seconds this process spent in it."""


def timed(run: Callable[[], Any], steps: int, runs: int) -> Timings:
    """One warm-up run, then ``runs`` timed ones; each must give ``steps``."""
    assert run() == steps
    seconds, cpu = [], []
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        result = run()
        seconds.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
        assert result == steps, result
    return seconds, cpu


def dbos(url: str, steps: int, runs: int, wal: bool) -> tuple[str, Timings]:
    """A ``@DBOS.workflow()`` calling a ``@DBOS.step()`` ``steps`` times, each durable.

    ``wal``: its SQLite database in write-ahead logging with ``synchronous = NORMAL``, as
    Turbocat's (DBOS's own default is a rollback journal, ``synchronous = FULL``).
    """
    from importlib.metadata import version

    from dbos import DBOS

    if wal:
        import sqlalchemy
        from sqlalchemy import event

        def like_turbocat(connection: Any, record: Any) -> None:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")

        event.listen(sqlalchemy.engine.Engine, "connect", like_turbocat)

    step = DBOS.step()(add_one)

    @DBOS.workflow()
    def chain(n: int) -> int:
        value = 0
        for _ in range(n):
            value = step(value)
        return value

    DBOS(config={"name": "turbocat-bench", "system_database_url": url, "log_level": "WARNING"})
    DBOS.launch()
    try:
        return version("dbos"), timed(lambda: chain(steps), steps, runs)
    finally:
        DBOS.destroy()


def prefect(steps: int, runs: int) -> tuple[str, Timings]:
    """A ``@flow`` calling a ``@task`` ``steps`` times, on a local ephemeral server."""
    from importlib.metadata import version

    from prefect import flow, task

    step = task(add_one)

    @flow(log_prints=False)
    def chain(n: int) -> int:
        value = 0
        for _ in range(n):
            value = step(value)
        return value

    return version("prefect"), timed(lambda: chain(steps), steps, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("peer", choices=["dbos", "prefect"])
    parser.add_argument("--url", help="DBOS's system database")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sqlite-wal", action="store_true", help="DBOS: SQLite as Turbocat's")
    args = parser.parse_args()
    if args.peer == "dbos":
        found, (seconds, cpu) = dbos(args.url, args.steps, args.runs, args.sqlite_wal)
    else:
        if os.environ.get("PREFECT_API_URL"):
            sys.exit("unset PREFECT_API_URL: the benchmark runs Prefect on its own local server")
        found, (seconds, cpu) = prefect(args.steps, args.runs)
    figures = {"peer": args.peer, "version": found, "steps": args.steps}
    print(json.dumps({**figures, "seconds": seconds, "cpu": cpu}))


if __name__ == "__main__":
    main()
