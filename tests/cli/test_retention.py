"""`turbocat prune` as a user runs it, over a SQLite file and over PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.test_data_commands import turbocat
from tests.contracts import factories
from tests.databases import require_postgres, temporary_database
from turbocat_adapters.container import Container
from turbocat_adapters.settings import Settings
from turbocat_core.domain.common import ListQuery
from turbocat_core.domain.execution import EXECUTION_QUERY, ExecutionStatus, StepStatus

pytestmark = pytest.mark.slow  # each test runs `turbocat` as a process

S = ExecutionStatus
Spec = tuple[ExecutionStatus, datetime]  # a status, and when it was created (and ended)


@contextlib.contextmanager
def configured(kind: str) -> Iterator[dict[str, str]]:
    """The TURBOCAT_* variables of an empty store of ``kind``."""
    if kind == "sqlite":
        yield {}  # with the data dir: see the test
        return
    require_postgres()
    with temporary_database("turbocat_cli") as dsn:
        yield {"TURBOCAT_DATABASE_URL": dsn}


async def on_store(env: dict[str, str], specs: Sequence[Spec] = ()) -> list[str]:
    """Add an execution per spec, each with 4 log lines and a step run; the statuses of
    the executions stored, oldest first."""
    container = Container()
    container.settings.override(Settings.load(env))
    store = container.store()
    await store.open()
    try:
        await store.migrate()
        async with store.unit_of_work() as uow:
            if specs:
                owner = factories.user()
                flow = factories.workflow(owner.id)
                await uow.users.add(owner)
                await uow.workflows.add(flow)
                for status, when in specs:
                    ended = when if status.finished else None
                    execution = factories.execution(
                        flow.id, owner.id, status=status, created_at=when, completed_at=ended
                    )
                    await uow.executions.add(execution)
                    await uow.logs.append(
                        [factories.log_line(execution.id, f"line {n}") for n in range(4)]
                    )
                    await uow.step_runs.save(
                        factories.step_run(execution.id, "a", status=StepStatus.COMPLETED)
                    )
                await uow.commit()
            query = ListQuery.build(
                EXECUTION_QUERY, sort_by="created_at", sort_order="asc", page_size=100
            )
            return [item.status.value for item in (await uow.executions.list(query)).items]
    finally:
        await store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_prune_deletes_old_finished_executions_in_batches(kind: str, tmp_path: Path):
    now = datetime.now(UTC)
    old, lately = now - timedelta(days=40), now - timedelta(days=3)
    with configured(kind) as env:
        env.setdefault("TURBOCAT_DATA_DIR", str(tmp_path / "data"))
        specs = [
            (S.COMPLETED, old - timedelta(hours=3)),
            (S.RUNNING, old - timedelta(hours=2)),  # unfinished: stays, whatever its age
            (S.FAILED, old - timedelta(hours=1)),
            (S.CANCELLED, old),
            (S.COMPLETED, lately),
        ]
        asyncio.run(on_store(env, specs))

        pruned = turbocat("prune", "--days", "30", "--batch-size", "2", **env)
        assert pruned.returncode == 0, pruned.stderr
        lines = pruned.stdout.strip().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith(
            "pruned 3 executions (12 log lines, 3 step runs) finished before "
        )
        assert lines[0].endswith("Z")  # UTC, written as the API writes times
        cutoff = datetime.fromisoformat(lines[0].rsplit(" ", 1)[1])
        assert abs(cutoff - (now - timedelta(days=30))) < timedelta(minutes=5)
        assert asyncio.run(on_store(env)) == ["RUNNING", "COMPLETED"]

        # Default days from the settings; --json prints the totals alone.
        again = turbocat("prune", "--json", TURBOCAT_RETENTION_DAYS="2", **env)
        assert again.returncode == 0, again.stderr
        totals = json.loads(again.stdout)
        assert totals["executions"] == 1 and totals["logs"] == 4 and totals["stepRuns"] == 1
        assert totals["days"] == 2 and totals["batches"] == 1
        assert asyncio.run(on_store(env)) == ["RUNNING"]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("--days", "0"), "--days must be between 1 and 36,500 (got 0)"),
        (("--days", "-5"), "--days must be between 1 and 36,500 (got -5)"),
        (("--batch-size", "0"), "--batch-size must be 1 or more (got 0)"),
    ],
)
def test_bad_input_is_one_line(args: tuple[str, ...], reason: str, tmp_path: Path):
    result = turbocat("prune", *args, TURBOCAT_DATA_DIR=str(tmp_path / "data"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {reason}"
    assert not (tmp_path / "data").exists()  # refused before opening anything
