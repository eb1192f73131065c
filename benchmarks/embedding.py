"""Embedded Turbocat beside DBOS and Prefect: a chain of Python functions that add one.

Side by side, in one run on this machine: a chain of ``--steps`` (100) Python functions, each
adding one to the previous one's output, run as one workflow by

  - Turbocat (``from turbocat_adapters import Turbocat``) on memory://, sqlite:/// (a file in
    a temporary folder) and PostgreSQL (a throwaway database on the server of
    TURBOCAT_TEST_POSTGRES, default postgresql://postgres@127.0.0.1:5432/postgres);
  - DBOS 3 (``@DBOS.workflow`` calling a ``@DBOS.step``) on SQLite with its defaults (a
    rollback journal, ``synchronous = FULL``), on SQLite set up as Turbocat's (a write-ahead
    log, ``synchronous = NORMAL``: ``dbos-sqlite-wal``) and on PostgreSQL;
  - Prefect 3 (a ``@flow`` calling a ``@task``) on its local ephemeral server (SQLite).

Each measurement is one warm-up run, then ``--runs`` timed runs; it prints the median in µs
per step (wall time of a whole run / steps) and the CPU time of the process per step,
Turbocat/DBOS on the same store against the targets, PostgreSQL's commit latency, and the
machine's load average at the start and the end. The peers run in subprocesses with the
Python of their own virtual environment (``--peers-python``, default ``.peers/bin/python``),
so their dependencies never meet ours; ``--setup-peers`` makes it:

    python -m venv .peers && .peers/bin/pip install dbos prefect 'psycopg[binary]'

    python benchmarks/embedding.py [--steps 100] [--runs 5] [--only turbocat-memory,dbos-sqlite]
    python benchmarks/embedding.py --quick      # a smoke run: 20 steps, 2 runs each
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python benchmarks/<name>.py`: the repository, not this folder, leads sys.path
# (benchmarks/queue.py would otherwise hide the standard library's `queue`).
ROOT = Path(__file__).resolve().parents[1]
sys.path[0:1] = [str(ROOT)]

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.databases import ADMIN_DSN, temporary_database

from turbocat_adapters import Turbocat
from turbocat_core import ExecutionStatus

MEASUREMENTS = (  # in this order, so that the runs compared are close in time
    "turbocat-memory",
    "turbocat-sqlite",
    "dbos-sqlite",
    "dbos-sqlite-wal",
    "turbocat-postgres",
    "dbos-postgres",
    "prefect",
)
PAIRS = (
    ("turbocat-sqlite", "dbos-sqlite"),
    ("turbocat-sqlite", "dbos-sqlite-wal"),
    ("turbocat-postgres", "dbos-postgres"),
)
PEERS_SCRIPT = Path(__file__).with_name("embedding_peers.py")
DEFAULT_PEERS_PYTHON = ROOT / ".peers" / "bin" / "python"
PEER_PACKAGES = ("dbos>=3,<4", "prefect>=3,<4", "psycopg[binary]>=3.2")
TARGET_RATIO = 1 / 5  # Turbocat's time per step at most this share of DBOS's, same store
TARGET_MEMORY_US = 60.0  # and at most this many µs per step on memory://


@dataclass
class Figure:
    """One measurement's timed runs, over every round."""

    name: str
    steps: int
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    rounds: dict[int, float] = field(default_factory=dict)  # round -> its median seconds

    @property
    def us_per_step(self) -> float:
        return statistics.median(self.seconds) / self.steps * 1e6

    @property
    def cpu_us_per_step(self) -> float:
        return statistics.median(self.cpu) / self.steps * 1e6


def chain(steps: int) -> dict[str, Any]:
    """A workflow file of ``steps`` steps, each calling ``add_one`` on the previous output."""
    return {
        "name": f"add one, {steps} times",
        "inputs": {"value": 0},
        "maxConcurrency": 1,
        "steps": [
            {
                "stepKey": f"s{i}",
                "function": "add_one",
                "inputs": {"value": f"{{{{s{i - 1}.output.value}}}}" if i else "{{inputs.value}}"},
                **({"dependsOn": [f"s{i - 1}"]} if i else {}),
            }
            for i in range(steps)
        ],
    }


Timings = tuple[list[float], list[float]]
"""Each timed run's wall seconds, and the CPU seconds this process spent in it."""


async def turbocat(url: str, steps: int, runs: int, profiler: Any = None) -> Timings:
    """One warm-up run, then ``runs`` timed runs of the chain on one open runtime."""
    tc = Turbocat(url)

    @tc.function
    async def add_one(inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {"value": inputs["value"] + 1}

    workflow = chain(steps)
    seconds: list[float] = []
    cpu: list[float] = []
    async with tc:
        for attempt in range(runs + 1):
            if profiler is not None and attempt:
                profiler.enable()
            began, began_cpu = time.perf_counter(), time.process_time()
            execution = await tc.run(workflow, inputs={"value": 0})
            took, took_cpu = time.perf_counter() - began, time.process_time() - began_cpu
            if profiler is not None:
                profiler.disable()
            assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
            assert execution.output_data[f"s{steps - 1}"] == {"value": steps}
            if attempt:
                seconds.append(took)
                cpu.append(took_cpu)
    return seconds, cpu


@contextlib.contextmanager
def postgres_database(prefix: str, synchronous_commit: str) -> Iterator[str]:
    """A throwaway PostgreSQL database (dropped after) with this ``synchronous_commit``."""
    import psycopg
    from psycopg import sql

    with temporary_database(prefix) as dsn:
        name = dsn.rsplit("/", 1)[1]
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} SET synchronous_commit = {}").format(
                    sql.Identifier(name), sql.Literal(synchronous_commit)
                )
            )
        yield dsn


@contextlib.contextmanager
def temporary_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="turbocat-bench-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure_turbocat(
    store: str, steps: int, runs: int, profile: str | None, pg_commit: str
) -> Timings:
    """Turbocat on ``store``; with ``profile``, its timed runs profiled into that file."""
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    if store == "memory":
        timings = asyncio.run(turbocat("memory://", steps, runs, profiler))
    elif store == "sqlite":
        with temporary_folder() as folder:
            url = f"sqlite:///{folder / 'runs.db'}"
            timings = asyncio.run(turbocat(url, steps, runs, profiler))
    else:
        with postgres_database("turbocat_bench", pg_commit) as dsn:
            timings = asyncio.run(turbocat(dsn, steps, runs, profiler))
    if profiler is not None and profile:
        profiler.dump_stats(profile)
    return timings


def run_peer(python: Path, args: list[str], env: dict[str, str] | None = None) -> Timings:
    """Run embedding_peers.py with the peers' Python; the timed runs' seconds."""
    done = subprocess.run(
        [str(python), str(PEERS_SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"exit {done.returncode}:\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return [float(s) for s in result["seconds"]], [float(s) for s in result["cpu"]]


def measure_dbos(python: Path, store: str, steps: int, runs: int, pg_commit: str) -> Timings:
    """DBOS on ``store``: ``sqlite`` (its defaults), ``sqlite-wal`` (SQLite set up as
    Turbocat's: write-ahead log, ``synchronous = NORMAL``) or ``postgres``."""
    common = ["dbos", "--steps", str(steps), "--runs", str(runs)]
    if store.startswith("sqlite"):
        wal = ["--sqlite-wal"] if store == "sqlite-wal" else []
        with temporary_folder() as folder:
            url = f"sqlite:///{folder / 'dbos.db'}"
            return run_peer(python, [*common, "--url", url, *wal])
    with postgres_database("dbos_bench", pg_commit) as dsn:
        return run_peer(python, [*common, "--url", dsn])


def measure_prefect(python: Path, steps: int, runs: int) -> Timings:
    with temporary_folder() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            PREFECT_HOME=str(home),  # its ephemeral server's SQLite database goes here
            PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",  # a loaded machine
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_LOGGING_LEVEL="WARNING",  # no console line per task
            DO_NOT_TRACK="1",
        )
        return run_peer(python, ["prefect", "--steps", str(steps), "--runs", str(runs)], env)


def setup_peers(python: Path) -> None:
    venv = python.parent.parent
    print(f"making {venv} with {', '.join(PEER_PACKAGES)}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)


def postgres_commit_ms(synchronous_commit: str) -> str:
    """What one commit costs here: the floor of a durable step on PostgreSQL."""
    from benchmarks.queue import commit_ms  # (it needs the fleet's packages: only here)

    with postgres_database("turbocat_commit", synchronous_commit) as dsn:
        took = commit_ms(dsn)
    setting = f"synchronous_commit {synchronous_commit}"
    return f"PostgreSQL commit (1-row INSERT, {setting}) p50 {took:.2f} ms"


def show(figure: Figure, label: str) -> None:
    runs = sorted(s / figure.steps * 1e6 for s in figure.seconds)
    loads = f"{min(figure.loads):.2f}-{max(figure.loads):.2f}"
    print(
        f"  {label:27} {figure.us_per_step:9.1f} µs/step   (best {runs[0]:.1f}, "
        f"worst {runs[-1]:.1f}; CPU of the process {figure.cpu_us_per_step:.1f} µs/step; "
        f"load {loads if len(figure.loads) > 1 else loads.split('-')[0]})",
        flush=True,
    )


def summary(figures: dict[str, Figure]) -> None:
    pairs = [
        (theirs, [mine.rounds[r] / peer.rounds[r] for r in mine.rounds if r in peer.rounds])
        for ours, theirs in PAIRS
        if (mine := figures.get(ours)) is not None and (peer := figures.get(theirs)) is not None
    ]
    if any(paired for _, paired in pairs):
        print("Turbocat / DBOS, same store (target at most 1/5 = 0.20), within each round:")
    for theirs, paired in pairs:
        if not paired:
            continue
        ratio = statistics.median(paired)
        verdict = "met" if ratio <= TARGET_RATIO else "missed"
        each = f"; rounds {', '.join(f'{r:.2f}' for r in paired)}" if len(paired) > 1 else ""
        store = theirs.removeprefix("dbos-")
        print(f"  {store:10} {ratio:5.2f}  (Turbocat {1 / ratio:.1f}x as fast; {verdict}{each})")
    memory = figures.get("turbocat-memory")
    if memory is not None:
        verdict = "met" if memory.us_per_step <= TARGET_MEMORY_US else "missed"
        print(
            f"Turbocat on memory://: {memory.us_per_step:.1f} µs/step "
            f"(target at most {TARGET_MEMORY_US:.0f}: {verdict})"
        )
    prefect = figures.get("prefect")
    if prefect is not None and memory is not None:
        print(f"Prefect / Turbocat memory://: {prefect.us_per_step / memory.us_per_step:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5, help="timed runs after one warm-up")
    parser.add_argument("--only", help=f"a comma-separated subset of {','.join(MEASUREMENTS)}")
    parser.add_argument("--quick", action="store_true", help="20 steps, 2 runs (a smoke run)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure everything this many times, in alternating order (on a loaded machine, "
        "pairs compared within a round see about the same load)",
    )
    parser.add_argument("--peers-python", type=Path, default=DEFAULT_PEERS_PYTHON)
    parser.add_argument("--setup-peers", action="store_true", help="make --peers-python's venv")
    parser.add_argument("--profile", help="cProfile the Turbocat runs into FILE.<store>")
    parser.add_argument(
        "--pg-synchronous-commit",
        choices=["on", "off"],
        default="on",
        help="PostgreSQL's synchronous_commit for both Turbocat's and DBOS's databases "
        "(off: commits do not wait for the WAL flush; shows what that flush costs)",
    )
    args = parser.parse_args()
    if args.quick:
        args.steps, args.runs = 20, 2
    chosen = args.only.split(",") if args.only else list(MEASUREMENTS)
    unknown = sorted(set(chosen) - set(MEASUREMENTS))
    if unknown:
        parser.error(f"unknown measurement(s) {', '.join(unknown)}; known: {MEASUREMENTS}")
    if args.setup_peers and not args.peers_python.exists():
        setup_peers(args.peers_python)

    load = os.getloadavg()
    print(
        f"{args.steps}-step chain of add-one Python functions, median of {args.runs} runs after "
        f"a warm-up{f' in each of {args.rounds} rounds' if args.rounds > 1 else ''} "
        f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs)",
        flush=True,
    )
    postgres = any("postgres" in name for name in chosen)
    if postgres:
        print(f"{postgres_commit_ms(args.pg_synchronous_commit)} at the start", flush=True)
    measures: dict[str, Callable[[], Timings]] = {}
    for store in ("memory", "sqlite", "postgres"):
        profile = f"{args.profile}.{store}" if args.profile else None
        measures[f"turbocat-{store}"] = lambda s=store, p=profile: measure_turbocat(
            s, args.steps, args.runs, p, args.pg_synchronous_commit
        )
    python = args.peers_python
    for store in ("sqlite", "sqlite-wal", "postgres"):
        measures[f"dbos-{store}"] = lambda s=store: measure_dbos(
            python, s, args.steps, args.runs, args.pg_synchronous_commit
        )
    measures["prefect"] = lambda: measure_prefect(python, args.steps, args.runs)

    figures: dict[str, Figure] = {}
    failed = False
    for name in chosen:
        if not name.startswith("turbocat") and not python.exists():
            print(f"  {name:27} skipped: no {python} (--setup-peers makes it)", flush=True)
            failed = True
    runnable = python.exists()
    ordered = [
        name
        for name in MEASUREMENTS
        if name in chosen and (runnable or name.startswith("turbocat"))
    ]
    for round_ in range(args.rounds):
        for name in ordered if round_ % 2 == 0 else ordered[::-1]:
            label = f"{name} (round {round_ + 1})" if args.rounds > 1 else name
            load_now = os.getloadavg()[0]
            try:
                seconds, cpu = measures[name]()
            except Exception as error:
                print(f"  {label:27} failed: {error}", flush=True)
                failed = True
                continue
            figure = figures.setdefault(name, Figure(name, args.steps))
            figure.seconds += seconds
            figure.cpu += cpu
            figure.loads.append(load_now)
            figure.rounds[round_] = statistics.median(seconds)
            show(Figure(name, args.steps, seconds, cpu, [load_now]), label)
    if args.rounds > 1:
        print(f"all {args.rounds} rounds:")
        for name in ordered:
            if name in figures:
                show(figures[name], name)
    summary(figures)
    if postgres:
        print(f"{postgres_commit_ms(args.pg_synchronous_commit)} at the end")
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.profile:
        print(f"profiles: {args.profile}.<store> (python -m pstats)")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
