"""The ``turbocat`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from turbocat_adapters import Turbocat
from turbocat_adapters.wire import encode, to_wire
from turbocat_cli import accounts, data, interrupts, retention, serve, worker
from turbocat_cli.files import InputError, read_document, read_inputs
from turbocat_cli.progress import Progress
from turbocat_core import __version__
from turbocat_core.domain.common import UserId
from turbocat_core.domain.execution import Execution, ExecutionLog, ExecutionStatus
from turbocat_core.errors import CycleDetected, InvalidState, TurbocatError, ValidationFailed

app = typer.Typer(
    name="turbocat",
    help="Turbocat: workflows and agents for Python.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data.db, name="db")
app.command()(data.seed)
app.command()(retention.prune)
app.add_typer(accounts.user, name="user")
app.add_typer(accounts.apikey, name="apikey")
app.command()(serve.serve)
app.command()(worker.worker)
err = Console(stderr=True, soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"error: {message}", markup=False, highlight=False)
    return typer.Exit(1)


def _describe(error: TurbocatError) -> str:
    """One line: the cycle path, or the first problem and how many more."""
    if isinstance(error, CycleDetected):
        return error.message
    if isinstance(error, ValidationFailed) and error.details:
        first = error.details[0]
        more = f" (and {len(error.details) - 1} more)" if len(error.details) > 1 else ""
        return f"{first.field}: {first.message}{more}"
    return error.message


def _version(value: bool) -> None:
    if value:
        typer.echo(f"turbocat {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Turbocat: workflows and agents for Python."""


FileArg = Annotated[Path, typer.Argument(help="A workflow file, JSON or YAML.", show_default=False)]


@app.command()
def validate(file: FileArg) -> None:
    """Check a workflow file: exit 0 if it is valid, else 1 naming the problem."""
    container = data.load_container()
    try:
        document = read_document(file)
        blueprint = container.workflow_files().blueprint(document, UserId(container.ids().new_id()))
    except InputError as error:
        raise _fail(str(error)) from None
    except TurbocatError as error:
        raise _fail(f"{file}: {_describe(error)}") from None
    steps, agents = len(blueprint.steps), len(blueprint.agents)
    typer.echo(f"{file}: valid ({steps} steps, {agents} agents)")


@app.command()
def run(
    file: FileArg,
    input_json: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            help="Inputs as a JSON object, or @path to a JSON file.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only the finished execution as one JSON line.")
    ] = False,
) -> None:
    """Run a workflow file in this process (in-memory store) and show its progress.

    Exits 0 when the execution completes, 1 when it fails, times out or is cancelled.
    """
    try:
        document = read_document(file)
        inputs = read_inputs(input_json)
    except InputError as error:
        raise _fail(str(error)) from None
    try:
        execution = interrupts.run_async(_run(document, inputs, quiet=as_json, title=str(file)))
    except TurbocatError as error:
        raise _fail(f"{file}: {_describe(error)}") from None
    if as_json:
        sys.stdout.buffer.write(encode(execution) + b"\n")
        sys.stdout.flush()
    else:
        _summary(execution)
    if execution.status is not ExecutionStatus.COMPLETED:
        raise typer.Exit(1)


async def _run(document: Any, inputs: dict[str, Any], *, quiet: bool, title: str) -> Execution:
    settings = data.load_container().settings()
    # `run` is local and throwaway: the in-memory store, whatever the configured one is.
    tc = Turbocat.from_settings(replace(settings, database_url="memory://", redis_url=None))
    async with tc:
        execution = await tc.start(document, inputs=inputs)
        console = Console(stderr=True, quiet=quiet)
        progress = Progress(list(execution.steps), console, title)
        with progress, _cancel_on_interrupt(tc, execution):
            async for event in tc.events(execution.id):
                if isinstance(event, ExecutionLog):
                    progress.on_log(event)
                else:
                    execution = event
    return execution


@contextlib.contextmanager
def _cancel_on_interrupt(tc: Turbocat, execution: Execution) -> Iterator[None]:
    """While the run goes on, Ctrl-C cancels it (steps interrupted, status CANCELLED); the
    next one stops the command at once (``interrupts.run_async``). Before the run exists,
    Ctrl-C just stops the command."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[None]] = set()

    async def cancelling() -> None:
        with contextlib.suppress(InvalidState):  # it ended meanwhile
            await tc.cancel(execution.id)

    def cancel() -> None:  # on the loop, not in the signal handler
        after_echo = "\n" if err.is_terminal else ""  # the terminal has echoed ^C
        err.print(f"{after_echo}cancelling... (Ctrl-C again to quit at once)")
        task = loop.create_task(cancelling())
        pending.add(task)
        task.add_done_callback(pending.discard)

    with interrupts.calling(lambda: loop.call_soon_threadsafe(cancel)):
        yield


def _summary(execution: Execution) -> None:
    out = Console(soft_wrap=True)
    skipped = execution.steps_total - execution.steps_completed - execution.steps_failed
    style = "green" if execution.status is ExecutionStatus.COMPLETED else "red"
    out.print(
        f"[{style}]{execution.status}[/] in {execution.duration_ms or 0:.0f} ms: "
        f"{execution.steps_completed} completed, {execution.steps_failed} failed, "
        f"{skipped} skipped or not run (execution {execution.id})"
    )
    if execution.error_message:
        out.print(f"[red]error:[/] {execution.error_message}", highlight=False)
    if execution.output_data:
        out.print_json(json.dumps(to_wire(execution.output_data), default=str))


def main() -> None:
    """The entry point of installs made before ``interrupts.main`` took over (their
    ``turbocat`` script still names this one): the same command, the same guard."""
    interrupts.main()
