"""`turbocat worker`: run executions from the fleet's Redis queue (any number, anywhere)."""

from __future__ import annotations

import logging
import time
from typing import Annotated

import typer

from turbocat_adapters.log_context import configure_logging
from turbocat_cli.data import (
    FunctionsOption,
    fail,
    import_functions,
    load_container,
    set_functions,
)


def worker(
    concurrency: Annotated[
        int, typer.Option(min=1, max=256, help="Executions this process runs at once.")
    ] = 8,
    burst: Annotated[
        bool, typer.Option(help="Stop once the queue is empty (for scripts and tests).")
    ] = False,
    functions: FunctionsOption = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Serve this worker's Prometheus metrics at http://HOST:PORT/metrics (off "
            "by default).",
        ),
    ] = None,
    metrics_host: Annotated[
        str | None,
        typer.Option(help="Address the metrics listen on [TURBOCAT_HOST, 127.0.0.1]."),
    ] = None,
) -> None:
    """Run queued executions, resume abandoned ones, fire schedules, prune old runs.

    Needs TURBOCAT_REDIS_URL and a shared database (TURBOCAT_DATABASE_URL=postgresql://...).
    Stops on SIGTERM or Ctrl-C, handing the runs in flight back to the fleet. Every worker
    needs the --functions of every server (a step naming a function its worker lacks fails).
    """
    set_functions(functions)
    container = load_container(secrets=True)
    settings = container.settings()
    if not settings.redis_url:
        raise fail("TURBOCAT_REDIS_URL is not set: workers take their jobs from Redis")
    if not (settings.database_url or "").startswith(("postgresql://", "postgres://")):
        raise fail(
            "workers share the database with the servers: set TURBOCAT_DATABASE_URL to "
            "postgresql://..."
        )
    # Times in UTC with Z, as the API and the CLI write them.
    logging.Formatter.converter = time.gmtime
    configure_logging(
        settings.log_level, "%(asctime)s.%(msecs)03dZ %(message)s", datefmt="%Y-%m-%dT%H:%M:%S"
    )
    try:
        from turbocat_adapters.rq.worker import run_worker
    except ImportError as missing:
        raise fail(
            f"workers need the fleet's drivers ({missing.name} is missing): "
            "pip install 'turbocat[postgres,redis]'"
        ) from None

    listed = import_functions(container)
    typer.echo(f"turbocat worker: {concurrency} place(s){listed}", err=True)
    if metrics_port is not None and not settings.metrics:
        raise fail("--metrics-port needs metrics on: TURBOCAT_METRICS is false")
    metrics = (metrics_host or settings.host, metrics_port) if metrics_port else None
    run_worker(container, concurrency=concurrency, burst=burst, metrics=metrics)
