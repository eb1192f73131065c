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
from turbocat_adapters.wire import encode, to_wire, wire_path
from turbocat_cli import accounts, data, interrupts, retention, serve, settings, worker
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
app.command()(settings.settings)
err = Console(stderr=True, soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"error: {message}", markup=False, highlight=False)
    return typer.Exit(1)


def _problems(error: TurbocatError) -> list[str]:
    """Every problem the error names, one line each (the cycle path, or each field's)."""
    cycle = isinstance(error, CycleDetected)
    if isinstance(error, ValidationFailed) and error.details and not cycle:
        return [f"{wire_path(detail.field)}: {detail.message}" for detail in error.details]
    return [error.message]


def _report(file: Path, error: TurbocatError) -> None:
    for problem in _problems(error):
        err.print(f"error: {file}: {problem}", markup=False, highlight=False)


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


FilesArg = Annotated[
    list[Path], typer.Argument(help="Workflow files, JSON or YAML.", show_default=False)
]


@app.command()
def validate(files: FilesArg) -> None:
    """Check workflow files: exit 0 if all are valid, else 1 naming every problem."""
    container = data.load_container()
    invalid = 0
    for file in files:
        try:
            document = read_document(file)
            owner = UserId(container.ids().new_id())
            blueprint = container.workflow_files().blueprint(document, owner)
        except InputError as error:
            err.print(f"error: {error}", markup=False, highlight=False)
            invalid += 1
        except TurbocatError as error:
            _report(file, error)
            invalid += 1
        else:
            steps, agents = len(blueprint.steps), len(blueprint.agents)
            typer.echo(f"{file}: valid ({steps} steps, {agents} agents)")
    if invalid:
        raise typer.Exit(1)


@app.command()
def run(
    files: FilesArg,
    input_json: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            help="Inputs as a JSON object, or @path to a JSON file (given to every file).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only each finished execution as one JSON line.")
    ] = False,
) -> None:
    """Run workflow files in this process (in-memory store), one after the other, and show
    their progress; several files end with a summary.

    Exits 0 when every execution completes, 1 when one fails, times out or is cancelled (or
    a file cannot be read); a Ctrl-C cancels the current run and skips the files after it.
    """
    try:
        inputs = read_inputs(input_json)
    except InputError as error:
        raise _fail(str(error)) from None
    outcomes: list[tuple[Path, str]] = []
    for file in files:
        status = _run_file(file, inputs, as_json=as_json)
        outcomes.append((file, status))
        if status == ExecutionStatus.CANCELLED:
            break
    if len(files) > 1 and not as_json:
        _totals(outcomes, skipped=files[len(outcomes) :])
    if any(status != ExecutionStatus.COMPLETED for _, status in outcomes):
        raise typer.Exit(1)


def _run_file(file: Path, inputs: dict[str, Any], *, as_json: bool) -> str:
    """Run one file and print its outcome; its status, or ``"INVALID"`` if it did not run."""
    try:
        document = read_document(file)
        execution = interrupts.run_async(_run(document, inputs, quiet=as_json, title=str(file)))
    except InputError as error:
        err.print(f"error: {error}", markup=False, highlight=False)
        return "INVALID"
    except TurbocatError as error:
        _report(file, error)
        return "INVALID"
    if as_json:
        sys.stdout.buffer.write(encode(execution) + b"\n")
        sys.stdout.flush()
    else:
        _summary(execution)
    return execution.status


def _totals(outcomes: list[tuple[Path, str]], skipped: list[Path]) -> None:
    out = Console(soft_wrap=True, highlight=False)
    passed = sum(status == ExecutionStatus.COMPLETED for _, status in outcomes)
    failed = [f"{file} ({status})" for file, status in outcomes if status != "COMPLETED"]
    failed += [f"{file} (not run)" for file in skipped]
    style = "red" if failed else "green"
    line = f"[{style}]{passed} of {len(outcomes) + len(skipped)} files completed[/]"
    out.print(line + (f"; not completed: {', '.join(failed)}" if failed else ""))


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
