"""The ports package: one module per subsystem, every name still importable from the package."""

from __future__ import annotations

import importlib
import pkgutil
from typing import TypeVar

import turbocat_core.ports as ports
from turbocat_core.ports.run_store import RunUnitOfWork
from turbocat_core.ports.storage import UnitOfWork


def _defined_in_submodules() -> dict[str, object]:
    names: dict[str, object] = {}
    for info in pkgutil.iter_modules(ports.__path__):
        module = importlib.import_module(f"{ports.__name__}.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, TypeVar) or name.startswith("_"):
                continue
            if getattr(value, "__module__", None) == module.__name__:
                names[name] = value
    return names


def test_the_package_re_exports_every_port_of_its_modules() -> None:
    defined = _defined_in_submodules()
    assert defined, "no port found"
    for name, value in defined.items():
        assert getattr(ports, name, None) is value, name
        assert name in ports.__all__, name


def test_the_full_unit_of_work_extends_the_run_store() -> None:
    run = set(RunUnitOfWork.__annotations__)
    full = set(UnitOfWork.__annotations__)
    assert run == {
        "users",
        "agents",
        "workflows",
        "steps",
        "executions",
        "step_runs",
        "logs",
        "audit_logs",
    }
    assert RunUnitOfWork in UnitOfWork.__mro__
    assert full == {"templates", "deployments", "api_keys", "analytics"}
    assert not run & full
