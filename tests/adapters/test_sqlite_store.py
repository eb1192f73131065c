"""The SQLite store at work: transactions, other processes, the worker thread, driver errors."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.contracts import factories as make
from turbocat_adapters.sqlite import SqliteStore, SqliteUnitOfWork
from turbocat_adapters.sqlite.errors import translate
from turbocat_adapters.sqlite.worker import Worker
from turbocat_core.domain.agent import AGENT_QUERY
from turbocat_core.domain.common import ListQuery
from turbocat_core.errors import (
    AlreadyExists,
    Conflict,
    ExternalServiceError,
    TurbocatError,
    ValidationFailed,
)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "turbocat.db"


@pytest.fixture
async def store(path: Path) -> AsyncIterator[SqliteStore]:
    # Rows here have made-up parents; foreign keys are tested in test_sqlite_schema.py.
    store = SqliteStore(path, lock_timeout=1.0, foreign_keys=False)
    await store.open()
    yield store
    await store.close()


async def _count_agents(store: SqliteStore) -> int:
    async with store.unit_of_work() as uow:
        return (await uow.agents.list(ListQuery())).total


# --- units of work -----------------------------------------------------------------------


async def test_a_unit_of_work_left_without_commit_stores_nothing(store: SqliteStore):
    async with store.unit_of_work() as uow:
        await uow.agents.add(make.agent())
        await uow.templates.add(make.template())
    assert await _count_agents(store) == 0


async def test_a_failing_transaction_leaves_nothing_half_written(store: SqliteStore):
    flow = make.workflow()

    async def save() -> None:
        async with store.unit_of_work() as uow:
            await uow.workflows.add(flow)
            await uow.steps.add(make.step(flow.id, "a"))
            await uow.steps.add(make.step(flow.id, "a"))  # Conflict: the key is taken
            await uow.commit()

    with pytest.raises(Conflict):
        await save()
    async with store.unit_of_work() as uow:
        assert await uow.workflows.get(flow.id) is None
        assert await uow.steps.for_workflow(flow.id) == []


async def test_repositories_refuse_use_outside_async_with(store: SqliteStore):
    uow = store.unit_of_work()
    assert isinstance(uow, SqliteUnitOfWork)
    with pytest.raises(RuntimeError):
        await uow.agents.get(make.agent().id)
    with pytest.raises(RuntimeError):
        await uow.logs.append([make.log_line(make.execution().id)])
    with pytest.raises(RuntimeError):
        await uow.commit()
    async with uow:
        with pytest.raises(RuntimeError):
            await uow.__aenter__()
    async with uow:  # it may be opened again once closed
        assert await uow.agents.get(make.agent().id) is None


async def test_readers_never_wait_for_a_writer(store: SqliteStore):
    agent = make.agent()
    async with store.unit_of_work() as writer:
        await writer.agents.add(agent)
        started = time.perf_counter()
        async with store.unit_of_work() as reader:  # same coroutine: reads take no lock
            assert await reader.agents.get(agent.id) is None
        assert time.perf_counter() - started < 0.5
        await writer.commit()
    assert await _count_agents(store) == 1


async def test_a_writer_waits_for_the_write_transaction_of_this_process(path: Path):
    store = SqliteStore(path, lock_timeout=0.2, foreign_keys=False)
    await store.open()
    try:
        async with store.unit_of_work() as first:
            await first.agents.add(make.agent())
            # Another task waits; past lock_timeout it gives up with Conflict.
            with pytest.raises(Conflict, match=r"waited more than 0\.2s"):
                await asyncio.create_task(_add_agent(store))
            # The same coroutine writing through a second unit of work waits for itself.
            async with store.unit_of_work() as second:
                with pytest.raises(Conflict):
                    await second.agents.add(make.agent())
            later = asyncio.create_task(_add_agent(store))
            await asyncio.sleep(0.05)
            assert not later.done()
            await first.commit()  # releases the lock: the waiting task goes ahead
        await later
        assert await _count_agents(store) == 2
    finally:
        await store.close()


async def _add_agent(store: SqliteStore) -> None:
    async with store.unit_of_work() as uow:
        await uow.agents.add(make.agent())
        await uow.commit()


async def test_a_cancelled_writer_leaves_the_store_usable(store: SqliteStore):
    written = asyncio.Event()
    dropped = make.agent()

    async def stuck() -> None:
        async with store.unit_of_work() as uow:
            await uow.agents.add(dropped)
            written.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(stuck())
    await written.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(_add_agent(store), 1)
    async with store.unit_of_work() as uow:
        assert await uow.agents.get(dropped.id) is None
        assert (await uow.agents.list(ListQuery())).total == 1


async def test_every_repository_method_is_one_call_on_the_worker(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
):
    calls: list[str] = []
    run = Worker.run

    async def counted(worker: Worker, call: Any) -> Any:
        calls.append(getattr(call, "__qualname__", "?"))
        return await run(worker, call)

    monkeypatch.setattr(Worker, "run", counted)
    execution = make.execution()
    runs = [make.step_run(execution.id, "a"), make.step_run(execution.id, "b")]
    async with store.unit_of_work() as uow:
        await uow.executions.add(execution)
        await uow.commit()
    calls.clear()
    async with store.unit_of_work() as uow:  # what the engine commits after a round
        for step_run in runs:
            await uow.step_runs.save(step_run)
        await uow.logs.append([make.log_line(execution.id), make.log_line(execution.id)])
        await uow.executions.add_step_counts(execution.id, completed=1)
        await uow.commit()
    assert len(calls) == 5
    calls.clear()
    async with store.unit_of_work() as uow:
        page = await uow.logs.list(execution.id, make_log_query())
        assert page.total == 2
        await uow.executions.add_step_counts(execution.id)  # nothing to add: no call
        await uow.commit()  # nothing written: no call
    assert len(calls) == 1


def make_log_query() -> Any:
    from turbocat_core.domain.execution import LogQuery

    return LogQuery(page_size=10)


async def test_search_folds_case_beyond_ascii_like_the_memory_store(store: SqliteStore):
    await _put_agents(store, make.agent(name="Ärger im Büro"), make.agent(name="ÉCOLE"))
    async with store.unit_of_work() as uow:
        found = await uow.agents.list(ListQuery.build(AGENT_QUERY, search="äRGER"))
        assert [agent.name for agent in found.items] == ["Ärger im Büro"]
        found = await uow.agents.list(ListQuery.build(AGENT_QUERY, search="école"))
        assert [agent.name for agent in found.items] == ["ÉCOLE"]


async def _put_agents(store: SqliteStore, *agents: Any) -> None:
    async with store.unit_of_work() as uow:
        for agent in agents:
            await uow.agents.add(agent)
        await uow.commit()


async def test_an_unsupported_filter_value_is_a_validation_error(store: SqliteStore):
    async with store.unit_of_work() as uow:
        with pytest.raises(ValidationFailed):
            await uow.agents.list(ListQuery(filters={"type": ["API"]}))


# --- other processes ---------------------------------------------------------------------


async def test_two_stores_on_one_file_see_each_others_commits(store: SqliteStore, path: Path):
    other = SqliteStore(path, foreign_keys=False)
    await other.open()
    try:
        agent = make.agent()
        async with other.unit_of_work() as uow:
            await uow.agents.add(agent)
            assert await _count_agents(store) == 0  # not committed yet
            await uow.commit()
        async with store.unit_of_work() as uow:
            assert await uow.agents.get(agent.id) == agent
    finally:
        await other.close()


async def test_a_write_blocked_by_another_process_past_the_busy_timeout_is_a_conflict(
    store: SqliteStore, path: Path
):
    impatient = SqliteStore(path, busy_timeout_ms=100, foreign_keys=False)
    await impatient.open()
    try:
        async with store.unit_of_work() as holder:
            await holder.agents.add(make.agent())  # holds the file's write lock
            started = time.perf_counter()
            with pytest.raises(Conflict, match="busy"):
                await _add_agent(impatient)
            assert time.perf_counter() - started >= 0.09
            await holder.commit()
        await _add_agent(impatient)  # the lock is free again
        assert await _count_agents(store) == 2
    finally:
        await impatient.close()


CHILD = """
import asyncio, sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID
from turbocat_adapters.sqlite import SqliteStore
from turbocat_core.domain.user import User

async def main() -> None:
    store = SqliteStore(Path(sys.argv[1]))
    await store.open()
    now = datetime.now(UTC)
    async with store.unit_of_work() as uow:
        user = User(id=UUID(sys.argv[2]), created_at=now, updated_at=now,
                    email="child@example.com", password_hash="x")
        await uow.users.add(user)
        await uow.commit()
    await store.close()

asyncio.run(main())
"""


async def test_a_commit_in_another_process_is_seen_here(store: SqliteStore, path: Path):
    user_id = make.user().id
    async with store.unit_of_work() as uow:
        assert await uow.users.get(user_id) is None
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", textwrap.dedent(CHILD), str(path), str(user_id)
    )
    assert await asyncio.wait_for(child.wait(), 60) == 0
    async with store.unit_of_work() as uow:
        assert (await uow.users.get_by_email("CHILD@example.com")).id == user_id


# --- the worker thread ---------------------------------------------------------------------

SLOW = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000)
SELECT count(*) FROM n
"""


async def test_the_event_loop_stays_responsive_while_sqlite_works(store: SqliteStore):
    reader = store.worker.reader
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    [count] = await store.worker.run(lambda: reader.execute(SLOW).fetchone())
    took = time.perf_counter() - started
    ticker.cancel()
    assert count == 3_000_000
    assert took > 0.1
    assert ticks >= took / 0.01 * 0.5  # the timer kept firing while the query ran


# --- driver errors -------------------------------------------------------------------------


async def test_ping(store: SqliteStore, path: Path):
    await store.ping()
    path.unlink()
    with pytest.raises(ExternalServiceError, match="gone"):
        await store.ping()


async def test_a_closed_store_raises_external_service_errors(store: SqliteStore):
    uow = store.unit_of_work()
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(ExternalServiceError):
        await store.ping()
    async with uow:
        with pytest.raises(ExternalServiceError) as raised:
            await uow.agents.get(make.agent().id)
    assert raised.value.service == "sqlite"


async def test_a_file_that_is_not_a_database_is_an_external_service_error(path: Path):
    path.write_bytes(b"this is not a database file, not at all" * 100)
    with pytest.raises(ExternalServiceError) as raised:
        await SqliteStore(path).open()
    assert not raised.value.retryable


async def test_an_unusable_location_is_an_external_service_error(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ExternalServiceError):
        await SqliteStore(blocker / "sub" / "turbocat.db").open()  # no directory can go there
    with pytest.raises(ExternalServiceError):
        await SqliteStore(tmp_path).open()  # a directory, not a file


def test_every_driver_error_is_translated(tmp_path: Path):
    connection = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    connection.executescript(
        "CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, "
        "n INTEGER CONSTRAINT ck_users_n CHECK (n >= 0), s TEXT NOT NULL);"
        "INSERT INTO users VALUES ('a', 1, 'x');"
    )
    statements = {
        "INSERT INTO users VALUES ('a', 1, 'x')": AlreadyExists,
        "INSERT INTO users VALUES ('b', -1, 'x')": ValidationFailed,
        "INSERT INTO users VALUES ('c', 1, NULL)": ValidationFailed,
        "SELECT * FROM missing": ExternalServiceError,
    }
    for sql, expected in statements.items():
        with pytest.raises(sqlite3.Error) as raised:
            connection.execute(sql)
        translated = translate(raised.value)
        assert type(translated) is expected, sql
        assert isinstance(translated, TurbocatError)
    connection.close()
    with pytest.raises(sqlite3.Error) as closed:
        connection.execute("SELECT 1")
    assert isinstance(translate(closed.value), ExternalServiceError)
    refused = translate(_error("INSERT INTO users VALUES ('b', -1, 'x')", tmp_path / "t.db"))
    assert isinstance(refused, ValidationFailed)
    assert [detail.field for detail in refused.details] == ["n"]


def _error(sql: str, path: Path) -> sqlite3.Error:
    connection = sqlite3.connect(path)
    try:
        connection.execute(sql)
    except sqlite3.Error as error:
        return error
    finally:
        connection.close()
    raise AssertionError(sql)
