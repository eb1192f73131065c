"""Python functions for FUNCTION steps: the process's registry, ``@function``, the module loader."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar, overload

from turbocat_core.agents.function_agent import FunctionRegistry, StepFunction
from turbocat_core.errors import ValidationFailed

F = TypeVar("F", bound=Callable[..., Any])

FUNCTIONS: Final = FunctionRegistry()
"""This process's functions: what ``@function`` registers and ``TURBOCAT_FUNCTIONS``'
modules fill; the container gives it to the FUNCTION executor (a server or a worker runs
these, and only these)."""


@overload
def function(fn: F, /) -> F: ...


@overload
def function(name: str | None = None, /) -> Callable[[F], F]: ...


def function(target: Any = None, /) -> Any:
    """Register a function as a FUNCTION step of this process, under its own name
    (``@function``) or another (``@function("total")``).

    The function is ``fn(inputs, ctx)``, sync or async, returning a JSON value (see the
    FUNCTION agent in docs/agents.md); it is returned unchanged. Put decorated functions in
    a module and name it in ``turbocat serve --functions`` / ``turbocat worker --functions``
    (``TURBOCAT_FUNCTIONS``). Raises ``ValueError`` when the name is empty or already taken
    by another function (the same function registered again is a no-op).
    """
    if callable(target):
        return _register(None, target)
    if target is not None and not isinstance(target, str):
        raise ValueError(f"@function takes a name (a string), got {type(target).__name__}")
    return lambda fn: _register(target, fn)


def _register(name: str | None, fn: F) -> F:
    if name is None:
        name = getattr(fn, "__name__", None)
        if not isinstance(name, str):
            raise ValueError(f"{fn!r} has no __name__: name it, @function('name')")
    FUNCTIONS.register(name, fn)
    return fn


class OverProcessFunctions(FunctionRegistry):
    """One runtime's functions (``@tc.function``) over the process's (``@function``): a name
    is looked up in its own first, then in the process's; registering a name the process
    has given another function is refused (``ValueError``), as within one registry."""

    __slots__ = ("_process",)

    def __init__(self, process: FunctionRegistry) -> None:
        super().__init__()
        self._process = process

    def register(self, name: str, fn: StepFunction) -> StepFunction:
        known = self._process.get(name) if isinstance(name, str) else None
        if known is not None and known is not fn:
            raise ValueError(f"function {name!r} is already registered (to {known!r})")
        return super().register(name, fn)

    def get(self, name: str) -> StepFunction | None:
        own = self._functions.get(name)  # (not super().get: this is asked once per step)
        fn = own if own is not None else self._process.get(name)
        return fn if self._wrapper is None else self._wrapped(name, fn)

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name) or name in self._process

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted({*super().names, *self._process.names}))


def container_functions(modules: Iterable[str]) -> FunctionRegistry:
    """A container's registry: its own, over the process's once ``modules`` are imported
    (``ValidationFailed`` as :func:`load_functions`)."""
    return OverProcessFunctions(load_functions(modules))


def load_functions(
    modules: Iterable[str], *, field: str = "TURBOCAT_FUNCTIONS"
) -> FunctionRegistry:
    """Import ``modules`` (the functions they decorate with ``@function`` register
    themselves); returns this process's registry.

    They are imported as ``python -m`` would find them: the current directory comes first on
    the import path, as with uvicorn's and Celery's app modules. A module that cannot be
    imported (not found, or raising while it loads) is a ``ValidationFailed`` on ``field``
    naming it and the error, in one line.
    """
    names = list(modules)
    if names and "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        try:
            importlib.import_module(name)
        except (Exception, SystemExit) as error:  # whatever the module raises while it loads
            text = str(error)
            described = f"{type(error).__name__}: {text}" if text else type(error).__name__
            raise ValidationFailed.field(
                field, f"module {name!r} cannot be imported ({described})"
            ) from error
    return FUNCTIONS
