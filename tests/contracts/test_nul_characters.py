"""Contract: what a run holds comes back exactly as written, NUL characters included.

PostgreSQL refuses NUL in ``text`` and in ``jsonb`` strings; its adapter stores them under a
reversible escape (docs/storage.md, "NUL characters"). These values hold NULs and strings
that look like that escape, to show that every value makes the round trip on every store.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

from tests.contracts import factories as make
from tests.contracts.helpers import fetch, put
from turbocat_core.domain.execution import ExecutionStatus, LogQuery, StepStatus

ESCAPE = "\ufdd0"  # the PostgreSQL adapter's escape character
AWKWARD = [
    "\x00",
    "a\x00b\x00\x00",
    ESCAPE,
    ESCAPE + "0",
    ESCAPE + ESCAPE,
    "\x00" + ESCAPE + "0\x00",
    "\\u0000",
    "\\\x00",
    "plain",
    "",
]


def awkward_json() -> dict[str, object]:
    """A JSON value holding every awkward string as a value, a key and in a list."""
    return {
        "values": AWKWARD,
        "keys": {text: index for index, text in enumerate(AWKWARD)},
        "nested": [{"stdout": "line\x00one\n", "x": [ESCAPE, {"\x00": None}]}],
    }


async def test_executions_keep_nul_characters(uow_factory):
    data = awkward_json()
    execution = make.execution(input_data=data, trigger_data=data, metadata=data)
    await put(uow_factory, "executions", execution)
    assert await fetch(uow_factory, "executions", execution.id) == execution
    finished = replace(
        execution,
        status=ExecutionStatus.FAILED,
        output_data={"a": data, "stdout": "\x00"},
        error_message="step 'a' failed: " + "".join(AWKWARD),
    )
    async with uow_factory() as uow:
        await uow.executions.update(finished)
        await uow.commit()
    assert await fetch(uow_factory, "executions", execution.id) == finished


async def test_step_runs_keep_nul_characters(uow_factory):
    execution = make.execution()
    await put(uow_factory, "executions", execution)
    runs = [
        make.step_run(
            execution.id,
            key,
            status=StepStatus.COMPLETED,
            output=output,
            error="".join(AWKWARD) if key == "b" else None,
        )
        for key, output in (("a", awkward_json()), ("b", "\x00"), ("c", [ESCAPE + "0"]))
    ]
    async with uow_factory() as uow:
        for run in runs:
            await uow.step_runs.save(run)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.step_runs.for_execution(execution.id)
    assert sorted(stored, key=lambda run: run.step_key) == runs


async def test_log_lines_keep_nul_characters(uow_factory):
    execution = uuid4()
    lines = [
        make.log_line(execution, text, metadata=awkward_json(), step_key="a")
        for text in AWKWARD
        if text
    ]
    async with uow_factory() as uow:
        await uow.logs.append(lines)
        await uow.commit()
    async with uow_factory() as uow:
        page = await uow.logs.list(execution, LogQuery(step_key="a"))
    assert [replace(line, seq=0) for line in page.items] == lines


async def test_filters_find_values_with_nul_characters(uow_factory):
    """A step key holding the escape is filtered on exactly like any other key."""
    execution = uuid4()
    lines = [make.log_line(execution, "x", step_key=key) for key in (ESCAPE + "0", "\x00", "k")]
    async with uow_factory() as uow:
        await uow.logs.append(lines)
        await uow.commit()
    async with uow_factory() as uow:
        for line in lines:
            page = await uow.logs.list(execution, LogQuery(step_key=line.step_key))
            assert [found.id for found in page.items] == [line.id]
