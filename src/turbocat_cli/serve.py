"""`turbocat serve`: the HTTP API under uvicorn, on the configured store (SQLite by default)."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from turbocat_adapters.bootstrap import ensure_bootstrap_admin
from turbocat_adapters.container import Container
from turbocat_adapters.database_url import redact
from turbocat_adapters.log_context import configure_logging
from turbocat_adapters.metrics.scrape import MULTIPROC_ENV, prepare_multiprocess_dir
from turbocat_adapters.store_contract import MigrationError, Store
from turbocat_cli.data import (
    FunctionsOption,
    fail,
    import_functions,
    load_container,
    run_with_store,
    set_functions,
)

# The app itself is named, not imported: the CLI and the HTTP front are separate layers.
APP_FACTORY = "turbocat_http.server:app_from_environment"


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [TURBOCAT_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [TURBOCAT_PORT, 3001].")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    functions: FunctionsOption = None,
) -> None:
    """Serve the HTTP API (docs at /api/v1/docs) until Ctrl-C or SIGTERM."""
    import uvicorn

    set_functions(functions)
    container = load_container(secrets=True)  # refuses weak secrets in production
    settings = container.settings()
    # Checked here, once: each server process imports them again (server.py).
    listed = import_functions(container)
    if settings.database_url == "memory://" and workers > 1:
        raise fail("memory:// keeps the data inside each process: serve it with one worker")
    run_with_store(container, lambda store: _prepare(container, store))
    configure_logging(settings.log_level, "%(message)s")
    where = (
        redact(settings.database_url)
        if settings.database_url
        else (f"SQLite {settings.data_dir / 'turbocat.db'}")
    )
    bind_host, bind_port = host or settings.host, port or settings.port
    typer.echo(
        f"turbocat on http://{bind_host}:{bind_port} ({where}, {workers} worker(s){listed})",
        err=True,
    )
    os.environ.setdefault("TURBOCAT_DATA_DIR", str(settings.data_dir))
    # Each server process loads its settings again: the address given here, not the
    # configured one, is where it listens and what its mails link to.
    os.environ["TURBOCAT_HOST"], os.environ["TURBOCAT_PORT"] = bind_host, str(bind_port)
    if settings.redis_url:
        typer.echo(
            "fleet mode: executions are queued on Redis for `turbocat worker` processes",
            err=True,
        )
    elif workers == 1:
        # The only process running executions: it can safely resume what a previous run of
        # the server left PENDING or RUNNING, and fire schedules exactly once. Several
        # workers need leases and a shared scheduler lock (Redis + RQ, the fleet mode).
        os.environ.setdefault("TURBOCAT_SINGLE_PROCESS", "true")
    else:
        typer.echo(
            "with several workers, schedules do not fire and interrupted runs are not resumed "
            "until Redis is configured (the fleet mode)",
            err=True,
        )
    if workers > 1:
        if settings.metrics:
            # Each server process writes its metrics there; a scrape adds them up.
            metrics_dir = os.environ.get(MULTIPROC_ENV) or str(settings.data_dir / "metrics")
            prepare_multiprocess_dir(Path(metrics_dir))
        _spare_the_workers_ctrl_c()
    uvicorn.run(
        APP_FACTORY,  # by name: uvicorn imports it in each worker process
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=workers,
        access_log=False,  # the app writes one JSON line per request itself
        server_header=False,
        proxy_headers=settings.trust_proxy_headers,
        log_level=settings.log_level,
    )
    # uvicorn returns once it has stopped on Ctrl-C (or SIGTERM with several workers; with
    # one, it ends by SIGTERM itself); its start-up failures exit instead.
    typer.echo("turbocat stopped", err=True)


def _spare_the_workers_ctrl_c() -> None:
    """Keep a terminal's Ctrl-C, which reaches the whole process group, away from uvicorn's
    worker processes: one caught starting up prints a KeyboardInterrupt traceback, and
    uvicorn's supervisor stops them with SIGTERM anyway. They inherit SIGINT blocked from
    this thread (so do their own children; none relies on SIGINT); this process still takes
    it, through a thread of its own that leaves it unblocked (Python runs the handler in
    the main thread whichever thread the signal reaches)."""
    from multiprocessing import resource_tracker

    # Started now: multiprocessing starts it with the first worker otherwise, and unblocks
    # SIGINT in the calling thread once it has.
    resource_tracker.ensure_running()
    threading.Thread(target=threading.Event().wait, name="sigint", daemon=True).start()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


async def _prepare(container: Container, store: Store) -> None:
    """Before any worker starts: the schema is current, and the bootstrap admin exists."""
    pending = [s for s in await store.migration_status() if s.applied_at is None]
    if pending:
        raise MigrationError(
            f"{len(pending)} migration(s) pending: run `turbocat db migrate` first"
        )
    created = await ensure_bootstrap_admin(container)
    if created is not None:
        typer.echo(f"created ADMIN {created}", err=True)
