"""``@function`` (the module-level decorator) and the ``TURBOCAT_FUNCTIONS`` modules the
container imports for the FUNCTION executor."""

from __future__ import annotations

import dataclasses
import importlib
import sys
import uuid
from pathlib import Path

import pytest
from dependency_injector import providers

import turbocat_adapters
from tests.function_modules import write_module, write_steps
from turbocat_adapters import Turbocat, function
from turbocat_adapters.container import Container
from turbocat_adapters.settings import Settings
from turbocat_core import ExecutionStatus
from turbocat_core.domain.agent import AgentType
from turbocat_core.errors import ValidationFailed


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def container(tmp_path: Path, *modules: str) -> Container:
    settings = Settings.load({}, tmp_path / "absent")
    return Container(settings=providers.Object(dataclasses.replace(settings, functions=modules)))


def accepts(container: Container, name: str) -> bool:
    try:
        container.executors().check_config(AgentType.FUNCTION, {"function": name})
    except ValidationFailed:
        return False
    return True


def test_function_is_exported_at_the_top_level():
    assert "function" in turbocat_adapters.__all__


def test_the_decorator_registers_under_the_function_s_name_or_the_one_given(tmp_path: Path):
    plain, named, called = unique("plain"), unique("named"), unique("called")

    def step(inputs: dict, ctx: object) -> dict:
        return inputs

    step.__name__ = plain
    assert function(step) is step  # the function comes back unchanged

    @function(named)
    async def other(inputs: dict, ctx: object) -> dict:
        return inputs

    def third(inputs: dict, ctx: object) -> dict:
        return inputs

    third.__name__ = called
    assert function()(third) is third
    built = container(tmp_path)
    for name in (plain, named, called):
        assert accepts(built, name), name
    assert not accepts(built, "other")  # registered as `named` only


def test_a_name_taken_by_another_function_is_refused():
    name = unique("taken")

    @function(name)
    def first(inputs: dict, ctx: object) -> None:
        return None

    function(name)(first)  # the same function again: no harm (a module imported twice)
    with pytest.raises(ValueError, match=f"function '{name}' is already registered"):

        @function(name)
        def second(inputs: dict, ctx: object) -> None:
            return None

    with pytest.raises(ValueError, match="non-empty"):
        function("  ")(first)
    with pytest.raises(ValueError, match="takes a name"):
        function(3)  # type: ignore[call-overload]


def test_the_container_imports_the_configured_modules(tmp_path: Path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    steps = write_steps(tmp_path)
    assert steps.module not in sys.modules
    built = container(tmp_path, steps.module)
    registry = built.functions()
    assert steps.module in sys.modules
    assert {steps.double, steps.total} <= set(registry.names)
    assert accepts(built, steps.double) and accepts(built, steps.total)
    assert not accepts(built, unique("missing"))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (None, "ModuleNotFoundError: No module named '{name}'"),
        ("import no_such_dependency_xyz\n", "No module named 'no_such_dependency_xyz'"),
        ("raise RuntimeError('no database here')\n", "RuntimeError: no database here"),
        ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
        ("def broken(:\n", "SyntaxError"),
    ],
)
def test_a_module_that_cannot_be_imported_is_named_in_one_line(
    tmp_path: Path, monkeypatch, source, expected
):
    monkeypatch.syspath_prepend(str(tmp_path))
    name = unique("bad")
    if source is not None:
        write_module(tmp_path, name, source)
    with pytest.raises(ValidationFailed) as caught:
        container(tmp_path, name).functions()
    (detail,) = caught.value.details
    assert detail.field == "TURBOCAT_FUNCTIONS"
    assert detail.message.startswith(f"module '{name}' cannot be imported (")
    assert expected.format(name=name) in detail.message
    assert "\n" not in caught.value.message


async def test_a_turbocat_runs_the_process_s_functions_beside_its_own(tmp_path: Path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    steps = write_steps(tmp_path)
    importlib.import_module(steps.module)  # a program importing its module of steps
    tc, other = Turbocat(), Turbocat()
    mine = unique("mine")

    @tc.function(mine)
    def plus_one(inputs: dict, ctx: object) -> int:
        return int(inputs["n"]) + 1

    with pytest.raises(ValueError, match=f"function '{steps.double}' is already registered"):
        tc.function(steps.double)(plus_one)  # the process's name: one function per name
    assert {steps.double, steps.total, mine} <= set(tc.functions)
    assert mine not in other.functions  # its own stay its own
    flow = {
        "name": "both",
        "steps": [
            {"stepKey": "twice", "function": steps.double, "inputs": {"n": 5}},
            {
                "stepKey": "next",
                "function": mine,
                "inputs": {"n": "{{twice.output.n}}"},
                "dependsOn": ["twice"],
            },
        ],
    }
    async with tc:
        execution = await tc.run(flow)
    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    assert execution.output_data == {"twice": {"n": 10, "attempt": 1}, "next": 11}
