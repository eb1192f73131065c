"""Execution-log contract: numbering, order, filters, cursor, paging, copies, concurrency."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import replace
from uuid import uuid4

import pytest

from tests.contracts import factories as make
from tests.contracts.factories import at
from tests.contracts.helpers import put
from turbocat_core.domain.execution import LogLevel, LogQuery
from turbocat_core.errors import Conflict


async def append(factory, *lines):
    async with factory() as uow:
        stored = await uow.logs.append(list(lines))
        await uow.commit()
    return stored


async def read(factory, execution_id, **query):
    async with factory() as uow:
        return await uow.logs.list(execution_id, LogQuery(**query))


async def test_lines_are_numbered_in_order_per_execution(uow_factory):
    execution, other = uuid4(), uuid4()
    stored = await append(
        uow_factory,
        make.log_line(execution, "one"),
        make.log_line(execution, "two"),
        make.log_line(other, "elsewhere"),
    )
    assert [(line.message, line.seq) for line in stored] == [
        ("one", 1),
        ("two", 2),
        ("elsewhere", 1),
    ]
    more = await append(uow_factory, make.log_line(execution, "three"))
    assert more[0].seq == 3
    page = await read(uow_factory, execution)
    assert [(line.seq, line.message) for line in page.items] == [
        (1, "one"),
        (2, "two"),
        (3, "three"),
    ]
    assert page.items[0] == stored[0]
    async with uow_factory() as uow:
        assert await uow.logs.last_seq(execution) == 3
        assert await uow.logs.last_seq(uuid4()) == 0


async def test_the_seq_a_caller_gives_is_replaced(uow_factory):
    execution = uuid4()
    stored = await append(uow_factory, make.log_line(execution, seq=42))
    assert stored[0].seq == 1


async def test_pending_lines_are_seen_inside_only(uow_factory):
    execution = uuid4()
    await append(uow_factory, make.log_line(execution, "committed"))
    async with uow_factory() as uow, uow_factory() as other:
        await uow.logs.append([make.log_line(execution, "pending")])
        assert await uow.logs.last_seq(execution) == 2
        assert [line.message for line in (await uow.logs.list(execution, LogQuery())).items] == [
            "committed",
            "pending",
        ]
        assert (await other.logs.list(execution, LogQuery())).total == 1
        assert await other.logs.last_seq(execution) == 1
    assert (await read(uow_factory, execution)).total == 1  # rolled back


async def test_numbering_goes_on_after_a_rollback_without_gaps(uow_factory):
    execution = uuid4()
    async with uow_factory() as uow:
        await uow.logs.append([make.log_line(execution)])
    stored = await append(uow_factory, make.log_line(execution))
    assert stored[0].seq == 1


async def test_filters_by_level_step_and_time(uow_factory):
    execution = uuid4()
    await append(
        uow_factory,
        make.log_line(execution, "a1", level=LogLevel.INFO, step_key="a", created_at=at(1)),
        make.log_line(execution, "a2", level=LogLevel.ERROR, step_key="a", created_at=at(2)),
        make.log_line(execution, "b1", level=LogLevel.INFO, step_key="b", created_at=at(3)),
        make.log_line(execution, "run", level=LogLevel.WARN, created_at=at(4)),
    )

    async def messages(**query):
        return [line.message for line in (await read(uow_factory, execution, **query)).items]

    assert await messages(level=LogLevel.INFO) == ["a1", "b1"]
    assert await messages(step_key="a") == ["a1", "a2"]
    assert await messages(step_key="a", level=LogLevel.ERROR) == ["a2"]
    assert await messages(since=at(2)) == ["a2", "b1", "run"]
    assert await messages(after_seq=2) == ["b1", "run"]
    assert await messages(after_seq=2, level=LogLevel.INFO) == ["b1"]
    assert await messages(after_seq=4) == []


async def test_paging_with_totals(uow_factory):
    execution = uuid4()
    await append(uow_factory, *(make.log_line(execution, str(i)) for i in range(7)))
    first = await read(uow_factory, execution, page=1, page_size=3)
    last = await read(uow_factory, execution, page=3, page_size=3)
    assert [line.message for line in first.items] == ["0", "1", "2"]
    assert (first.total, first.has_next, first.has_prev) == (7, True, False)
    assert [line.message for line in last.items] == ["6"]
    assert (last.has_next, last.has_prev) == (False, True)
    after = await read(uow_factory, execution, after_seq=5, page_size=1)
    assert ([line.seq for line in after.items], after.total) == ([6], 2)


async def test_lines_are_copied_both_ways(uow_factory):
    execution = uuid4()
    line = make.log_line(execution, metadata={"k": [1]})
    expected = copy.deepcopy(line)
    [stored] = await append(uow_factory, line)
    line.metadata["k"].append(2)
    stored.metadata["k"].append(3)
    [read_back] = (await read(uow_factory, execution)).items
    assert read_back == replace(expected, seq=1)
    read_back.metadata.clear()
    assert (await read(uow_factory, execution)).items[0].metadata == {"k": [1]}


async def test_a_line_id_is_unique(uow_factory):
    execution = uuid4()
    line = make.log_line(execution)
    await append(uow_factory, line)
    async with uow_factory() as uow:
        with pytest.raises(Conflict):
            await uow.logs.append([replace(line, message="again")])
        twin = make.log_line(execution)
        with pytest.raises(Conflict):
            await uow.logs.append([twin, replace(twin, message="twin")])
        assert await uow.logs.last_seq(execution) == 1  # a refused batch leaves nothing


async def test_concurrent_writers_never_share_a_number_nor_commit_out_of_order(uow_factory):
    execution = make.execution()
    await put(uow_factory, "executions", execution)  # both writers name an existing execution
    execution = execution.id
    first_appended = asyncio.Event()
    release_first = asyncio.Event()

    async def first():
        async with uow_factory() as uow:
            try:  # set it even if append fails, so a broken store fails fast, not hangs
                stored = await uow.logs.append([make.log_line(execution, "first")])
            finally:
                first_appended.set()
            await release_first.wait()
            await uow.commit()
            return stored[0].seq

    async def second():
        await first_appended.wait()
        async with uow_factory() as uow:
            stored = await uow.logs.append([make.log_line(execution, "second")])
            await uow.commit()
            return stored[0].seq

    first_task = asyncio.create_task(first())
    second_task = asyncio.create_task(second())
    await first_appended.wait()
    await asyncio.sleep(0.05)
    # the second writer waits for the first; a reader sees nothing yet
    assert not second_task.done()
    assert (await read(uow_factory, execution)).total == 0
    release_first.set()
    assert (await first_task, await second_task) == (1, 2)
    page = await read(uow_factory, execution)
    assert [(line.seq, line.message) for line in page.items] == [(1, "first"), (2, "second")]


async def test_a_waiting_writer_takes_the_numbers_a_rolled_back_one_gave_up(uow_factory):
    execution = uuid4()
    appended = asyncio.Event()
    release = asyncio.Event()

    async def abandoned():
        async with uow_factory() as uow:
            try:
                await uow.logs.append([make.log_line(execution, "abandoned")])
            finally:
                appended.set()
            await release.wait()

    async def kept():
        await appended.wait()
        return await append(uow_factory, make.log_line(execution, "kept"))

    tasks = [asyncio.create_task(abandoned()), asyncio.create_task(kept())]
    await appended.wait()
    await asyncio.sleep(0.01)
    release.set()
    _, stored = await asyncio.gather(*tasks)
    assert stored[0].seq == 1
    assert [line.message for line in (await read(uow_factory, execution)).items] == ["kept"]
