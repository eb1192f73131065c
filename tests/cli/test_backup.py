"""`turbocat db backup|restore`: a backup taken while workflows run restores into an empty
store whole; one taken at rest restores every row of every table as it was."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli.test_data_commands import turbocat
from tests.databases import require_postgres, temporary_database

pytestmark = pytest.mark.slow  # processes, workflows, PostgreSQL

ROOT = Path(__file__).resolve().parents[2]
Rows = dict[str, list[str]]

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from turbocat_adapters import Turbocat
    from turbocat_cli.files import read_document

    async def main(url, stop):
        document = read_document(Path("examples/etl-diamond.yaml"))
        async with Turbocat(url) as tc:
            while not Path(stop).exists():
                execution = await tc.start(document)
                finished = await tc.wait(execution.id)
                print(finished.id, finished.status, flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def store_env(url: str) -> dict[str, str]:
    return {"TURBOCAT_DATABASE_URL": url, "TURBOCAT_ENV": "test"}


class Writer:
    """A process running workflows on the store one after the other until told to stop;
    it prints each finished run's id and status."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.stop_file = tmp_path / "stop-writing"
        self.process = subprocess.Popen(
            [sys.executable, "-c", WRITER, url, str(self.stop_file)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.finished: list[str] = []

    def wait_for_runs(self, count: int) -> None:
        """Until ``count`` more runs have finished."""
        assert self.process.stdout is not None
        target = len(self.finished) + count
        while len(self.finished) < target:
            line = self.process.stdout.readline()
            assert line, f"the writer ended (exit {self.process.wait()})"
            self.finished.append(line.split()[0])
            assert line.split()[1] == "COMPLETED", line

    def stop(self) -> None:
        self.stop_file.touch()
        assert self.process.stdout is not None
        self.finished += [line.split()[0] for line in self.process.stdout]
        assert self.process.wait(timeout=120) == 0


@pytest.fixture
def writers() -> Iterator[list[Writer]]:
    started: list[Writer] = []
    yield started
    for writer in started:
        if writer.process.poll() is None:
            writer.process.kill()
            writer.process.wait()


def round_trip(
    source: str,
    targets: tuple[str, str],
    tmp_path: Path,
    rows_of: Callable[[str], Rows],
    writers: list[Writer],
) -> None:
    migrated = turbocat("db", "migrate", **store_env(source))
    assert migrated.returncode == 0, migrated.stderr
    writer = Writer(source, tmp_path)
    writers.append(writer)
    writer.wait_for_runs(2)
    done_before = list(writer.finished)

    live = tmp_path / "live.backup"
    backed = turbocat("db", "backup", str(live), **store_env(source))
    assert backed.returncode == 0, backed.stderr
    assert backed.stdout.startswith("backed up ")
    writer.wait_for_runs(2)  # still writing after the backup: it did not stop the writer
    writer.stop()

    into_live = turbocat("db", "restore", str(live), **store_env(targets[0]))
    assert into_live.returncode == 0, into_live.stderr
    status = turbocat("db", "status", **store_env(targets[0]))
    assert status.returncode == 0, status.stdout + status.stderr
    restored = rows_of(targets[0])
    executions = "\n".join(restored["executions"])
    assert all(run_id in executions for run_id in done_before)

    # At rest: every row of every table comes back as it was.
    rest = tmp_path / "rest.backup"
    assert turbocat("db", "backup", str(rest), **store_env(source)).returncode == 0
    into = turbocat("db", "restore", str(rest), **store_env(targets[1]))
    assert into.returncode == 0, into.stderr
    expected = rows_of(source)
    assert len(expected["executions"]) == len(writer.finished) >= 4
    assert rows_of(targets[1]) == expected

    again = turbocat("db", "restore", str(rest), **store_env(targets[1]))
    assert again.returncode == 1
    assert again.stderr.startswith("error: ") and "not empty" in again.stderr
    assert "--force" in again.stderr
    forced = turbocat("db", "restore", str(rest), "--force", **store_env(targets[0]))
    assert forced.returncode == 0, forced.stderr
    assert rows_of(targets[0]) == expected


def sqlite_rows(url: str) -> Rows:
    with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            table: sorted(map(repr, conn.execute(f'SELECT * FROM "{table}"'))) for table in tables
        }


def postgres_rows(url: str) -> Rows:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        return {
            table: sorted(
                map(repr, conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table))))
            )
            for table in tables
        }


def test_sqlite_round_trip_while_workflows_run(tmp_path, writers):
    urls = [f"sqlite:///{tmp_path / name}" for name in ("live.db", "a.db", "b.db")]
    # sqlite:/// + an absolute path: four slashes, the absolute form.
    round_trip(urls[0], (urls[1], urls[2]), tmp_path, sqlite_rows, writers)


def require_pg_tools() -> None:
    missing = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]
    if missing:
        why = f"{', '.join(missing)} not on the PATH (Debian: postgresql-client)"
        if os.environ.get("CI"):
            pytest.fail(f"{why}: under CI=true the backup tests never skip")
        pytest.skip(why)


def test_postgres_round_trip_while_workflows_run(tmp_path, writers):
    require_postgres()
    require_pg_tools()
    with (
        temporary_database("turbocat_backup") as source,
        temporary_database("turbocat_restore") as first,
        temporary_database("turbocat_restore") as second,
    ):
        round_trip(source, (first, second), tmp_path, postgres_rows, writers)
        for writer in writers:  # before the databases are dropped
            writer.process.wait(timeout=120)


def test_bad_input_ends_in_one_line(tmp_path):
    memory = turbocat("db", "backup", str(tmp_path / "x"), **store_env("memory://"))
    assert memory.returncode == 1
    assert memory.stderr.startswith("error: ") and "memory://" in memory.stderr
    assert len(memory.stderr.splitlines()) == 1

    nowhere = turbocat("db", "backup", str(tmp_path / "no" / "dir.db"), **store_env("sqlite:///x"))
    assert nowhere.returncode == 1
    assert (
        nowhere.stderr.startswith("error: cannot write") and len(nowhere.stderr.splitlines()) == 1
    )

    sqlite = store_env(f"sqlite:///{tmp_path / 'target.db'}")
    missing = turbocat("db", "restore", str(tmp_path / "nope"), **sqlite)
    assert missing.returncode == 1 and "no such file" in missing.stderr
    junk = tmp_path / "junk"
    junk.write_text("not a backup")
    refused = turbocat("db", "restore", str(junk), **sqlite)
    assert refused.returncode == 1 and "not a Turbocat SQLite backup" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1

    no_tools = turbocat(
        "db",
        "backup",
        str(tmp_path / "x.dump"),
        PATH="",
        **store_env("postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    assert no_tools.returncode == 1
    assert "pg_dump" in no_tools.stderr and "postgresql-client" in no_tools.stderr
    assert not (tmp_path / "x.dump").exists()
