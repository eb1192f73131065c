"""`turbocat prune`: delete finished executions older than the retention period."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from turbocat_adapters.store_contract import MigrationError, Store
from turbocat_cli.data import err, fail, load_container, out, run_with_store
from turbocat_core.domain.common import utc_text
from turbocat_core.usecases.retention import DEFAULT_BATCH_SIZE, MAX_DAYS, PruneReport


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def prune(
    days: Annotated[
        int | None,
        typer.Option(
            help="Delete what finished more than this many days ago "
            "(default: TURBOCAT_RETENTION_DAYS, 30).",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(help="Executions deleted per transaction.")
    ] = DEFAULT_BATCH_SIZE,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only the totals, as one JSON line.")
    ] = False,
) -> None:
    """Delete finished executions older than the retention period, with their logs.

    Executions that are PENDING or RUNNING stay, whatever their age; so does one that a
    running retry or child still refers to (it goes once that run finishes). Each batch is
    a short transaction of its own, so the server can keep running meanwhile and an
    interrupted prune loses nothing but the batch in flight.
    """
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise fail(f"--days must be between 1 and {MAX_DAYS:,} (got {days})")
    if batch_size < 1:
        raise fail(f"--batch-size must be 1 or more (got {batch_size})")
    container = load_container()
    keep = days if days is not None else container.settings().retention_days

    with err.status(f"pruning executions that finished more than {keep} days ago...") as status:

        def progress(report: PruneReport) -> None:
            status.update(
                f"pruning executions finished before {report.cutoff:%Y-%m-%d %H:%M}: "
                f"{report.executions:,} so far ({report.logs:,} log lines)..."
            )

        async def work(store: Store) -> PruneReport:
            pending = [s for s in await store.migration_status() if s.applied_at is None]
            if pending:
                raise MigrationError(
                    f"{len(pending)} migration(s) pending: run `turbocat db migrate` first"
                )
            return await container.prune_executions()(
                days=keep, batch_size=batch_size, on_batch=progress
            )

        report = run_with_store(container, work)

    if as_json:
        totals = {
            "executions": report.executions,
            "logs": report.logs,
            "stepRuns": report.step_runs,
            "batches": report.batches,
            "cutoff": utc_text(report.cutoff),
            "days": keep,
        }
        typer.echo(json.dumps(totals))
        return
    out.print(
        f"pruned {_count(report.executions, 'execution')} "
        f"({_count(report.logs, 'log line')}, {_count(report.step_runs, 'step run')}) "
        f"finished before {utc_text(report.cutoff.replace(microsecond=0))}",
        highlight=False,
    )
