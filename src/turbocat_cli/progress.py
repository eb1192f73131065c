"""Live progress of a run: a table of steps on a terminal, one line per step elsewhere."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from turbocat_core.domain.execution import ExecutionLog, StepStatus
from turbocat_core.domain.workflow import WorkflowStep

_SYMBOL = {
    None: ("·", "dim"),
    StepStatus.PENDING: ("·", "dim"),
    StepStatus.RUNNING: ("▶", "cyan"),
    StepStatus.COMPLETED: ("✔", "green"),
    StepStatus.FAILED: ("✖", "red"),
    StepStatus.SKIPPED: ("↷", "yellow"),
}


@dataclass(slots=True)
class _Row:
    step: WorkflowStep
    status: StepStatus | None = None
    attempt: int | None = None
    duration_ms: float | None = None
    note: str = ""


class Progress:
    """Subscribe ``on_log`` to the engine's log broadcast; use as a context manager."""

    def __init__(self, steps: list[WorkflowStep], console: Console, title: str) -> None:
        self.rows = {step.step_key: _Row(step) for step in steps}
        self.console = console
        self.title = title
        self.live: Live | None = None

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            self.live = Live(self._table(), console=self.console, refresh_per_second=12)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self._table())
            self.live.__exit__(None, None, None)

    def on_log(self, line: ExecutionLog) -> None:
        row = self.rows.get(line.step_key or "")
        if row is None or line.step_status is None:
            return
        changed = row.status is not line.step_status
        row.status = line.step_status
        row.attempt = line.attempt
        if line.step_duration_ms is not None:
            row.duration_ms = line.step_duration_ms
        if (
            line.step_status in (StepStatus.FAILED, StepStatus.SKIPPED)
            or "retrying" in line.message
        ):
            row.note = line.message
        if self.live is not None:
            self.live.update(self._table())
        elif changed and line.step_status.finished:
            symbol, _ = _SYMBOL[line.step_status]
            timing = f" in {row.duration_ms:.0f} ms" if row.duration_ms is not None else ""
            self.console.print(
                f"{symbol} {line.step_key} {line.step_status.lower()}{timing}",
                markup=False,
                highlight=False,
            )

    def _table(self) -> Table:
        table = Table(title=self.title, title_justify="left", expand=False)
        for name in ("", "step", "type", "attempt", "time", "note"):
            table.add_column(name, no_wrap=name != "note")
        for key, row in self.rows.items():
            symbol, style = _SYMBOL[row.status]
            table.add_row(
                Text(symbol, style=style),
                key,
                row.step.step_type.value,
                str(row.attempt or ""),
                f"{row.duration_ms:.0f} ms" if row.duration_ms is not None else "",
                Text(row.note[:80], style="dim"),
            )
        return table
