"""The FUNCTION agent: a Python callable registered in this process, run as a step."""

from __future__ import annotations

import asyncio
import copy
import inspect
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from turbocat_core.agents.configs import check_function_config
from turbocat_core.agents.contract import RunContext
from turbocat_core.agents.failures import AgentFailure, FailureKind
from turbocat_core.domain.agent import Agent
from turbocat_core.domain.common import ExecutionId, JsonObject, WorkflowId
from turbocat_core.domain.execution import LogLevel
from turbocat_core.errors import NonRetryableError, ValidationFailed

StepFunction = Callable[[JsonObject, "FunctionContext"], Any]
"""``fn(inputs, ctx)``, sync or async, returning a JSON value."""
FunctionWrapper = Callable[[str, StepFunction], StepFunction]
"""``wrapper(name, fn)``: what a step calls instead of the function registered as ``name``."""

_JSON_TYPES: Final = (str, int, bool, type(None), list, tuple)


@dataclass(frozen=True, slots=True)
class FunctionContext:
    """What a step's function is told about its run, and its way to write to the run's log."""

    execution_id: ExecutionId
    workflow_id: WorkflowId
    step_key: str
    attempt: int
    _run: RunContext

    async def log(self, message: str) -> None:
        """Write ``message`` as an INFO line of the execution's log, attached to this step."""
        await self._run.log(LogLevel.INFO, str(message), {})


class FunctionRegistry:
    """The Python functions this process can run as FUNCTION steps, by name.

    ``register`` raises ``ValueError`` for an empty name, a non-callable, or a name already
    taken by another function (registering the same function again is a no-op, so a module
    imported twice does no harm).
    """

    __slots__ = ("_functions", "_wrapper")

    def __init__(self) -> None:
        self._functions: dict[str, StepFunction] = {}
        self._wrapper: FunctionWrapper | None = None

    def register(self, name: str, fn: StepFunction) -> StepFunction:
        """Register ``fn`` as ``name``; returns ``fn`` (so it can back a decorator)."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError("a function's name must be a non-empty string")
        if not callable(fn):
            raise ValueError(f"function {name!r} must be callable, got {type(fn).__name__}")
        known = self._functions.get(name)
        if known is not None and known is not fn:
            raise ValueError(f"function {name!r} is already registered (to {known!r})")
        self._functions[name] = fn
        return fn

    def get(self, name: str) -> StepFunction | None:
        """The function a step registered as ``name`` calls (through the wrapper, if one is
        set), or ``None``."""
        fn = self._functions.get(name)
        return fn if self._wrapper is None else self._wrapped(name, fn)

    def wrap(self, wrapper: FunctionWrapper | None) -> None:
        """Have steps call ``wrapper(name, fn)`` instead of each registered ``fn``, until
        ``wrap(None)``: the seam test doubles use (the testing kit's fault injection).
        One wrapper at a time; the registered functions themselves do not change."""
        if wrapper is not None and not callable(wrapper):
            raise ValueError(f"a function wrapper must be callable, got {type(wrapper).__name__}")
        self._wrapper = wrapper

    def _wrapped(self, name: str, fn: StepFunction | None) -> StepFunction | None:
        wrapper = self._wrapper
        return fn if fn is None or wrapper is None else wrapper(name, fn)

    def __contains__(self, name: object) -> bool:
        return name in self._functions

    @property
    def names(self) -> tuple[str, ...]:
        """Every registered name, sorted."""
        return tuple(sorted(self._functions))


class FunctionExecutor:
    """Runs FUNCTION agents (``{"function": name}``) with the functions of a registry.

    Async functions run on the event loop (cancellation and timeouts interrupt them at their
    next await); sync ones in a worker thread (``asyncio.to_thread``: a cancelled or timed-out
    step ends at once, but Python cannot stop the thread, which runs on to its end and whose
    result is dropped). An exception fails the attempt retryably (kind ``error``, with the
    exception's type and message); ``NonRetryableError`` and a return value that is not JSON
    fail it without retry; so does a name this process has not registered.
    """

    def __init__(self, registry: FunctionRegistry, *, where: str = "this process") -> None:
        """``where`` names this process in run-time failures (a fleet's worker id)."""
        self.registry = registry
        self._where = where
        self._async: dict[Any, bool] = {}  # whether each function called so far is async

    def _is_async(self, fn: Callable[..., Any]) -> bool:
        """Asked once per function (registered functions live as long as the process)."""
        try:
            return self._async[fn]
        except KeyError:
            known = self._async[fn] = is_coroutine_function(fn)
            return known
        except TypeError:  # not hashable: ask each time
            return is_coroutine_function(fn)

    def check_config(self, config: JsonObject) -> None:
        """The shape, then that the name is registered here (``config.function`` otherwise)."""
        check_function_config(config)
        name = config["function"]
        if name not in self.registry:
            raise ValidationFailed.field(
                "config.function", f"function {name!r} is not registered in this process"
            )

    async def execute(
        self, agent: Agent, config: JsonObject, inputs: JsonObject, ctx: RunContext
    ) -> Any:
        name = config.get("function")
        fn = self.registry.get(name) if isinstance(name, str) else None
        if fn is None:
            raise AgentFailure(
                f"function {name!r} is not registered in {self._where}", retryable=False
            )
        context = FunctionContext(
            execution_id=ctx.execution_id,
            workflow_id=ctx.workflow_id,
            step_key=ctx.step_key,
            attempt=ctx.attempt,
            _run=ctx,
        )
        # The function may change what it is given; the engine's values must not change.
        arguments = _copied(inputs)
        try:
            if self._is_async(fn):
                result = await fn(arguments, context)
            else:
                result = await asyncio.to_thread(fn, arguments, context)
                if inspect.isawaitable(result):  # a sync wrapper around a coroutine function
                    result = await result
        except AgentFailure:
            raise
        except NonRetryableError as error:
            raise AgentFailure(_described(error), retryable=False) from error
        except Exception as error:
            raise AgentFailure(_described(error), kind=FailureKind.ERROR) from error
        problem = _not_json(result)
        if problem is not None:
            raise AgentFailure(
                f"function {name!r} returned {problem}, which is not JSON", retryable=False
            )
        return result


def is_coroutine_function(fn: Callable[..., Any]) -> bool:
    """Whether calling ``fn`` gives a coroutine (run on the event loop) rather than its result
    (run in a worker thread)."""
    call = getattr(fn, "__call__", None)  # noqa: B004 (an object whose __call__ is async)
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def _copied(inputs: JsonObject) -> dict[str, Any]:
    """A copy of the step's inputs sharing nothing mutable with them: JSON containers are
    rebuilt (the usual case, several times faster than ``copy.deepcopy``); anything else
    inside is deep-copied."""
    return {key: _copy(value) for key, value in inputs.items()}


def _copy(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {key: _copy(item) for key, item in value.items()}
    if kind is list:
        return [_copy(item) for item in value]
    return copy.deepcopy(value)


def _described(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _a(name: str) -> str:
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def _not_json(value: Any) -> str | None:
    """What in ``value`` is not JSON (``"a set"``, ``"a float nan at items.2"``), or ``None``.
    Iterative, so a deeply nested value cannot exhaust the stack."""
    if _plain_json(value):
        return None
    for item, path in _walk(value):
        where = f" at {path}" if path else ""
        if isinstance(item, float):
            if not math.isfinite(item):
                return f"a float {item}{where}"
        elif isinstance(item, dict):
            for key in item:
                if not isinstance(key, str):
                    return f"an object with {_a(type(key).__name__)} key{where}"
        elif not isinstance(item, _JSON_TYPES):
            return f"{_a(type(item).__name__)}{where}"
    return None


def _plain_json(value: Any) -> bool:
    """Whether ``value`` is JSON made of exactly dicts with string keys, lists, tuples,
    strings, ints, bools, ``None`` and finite floats: the quick answer for the usual return
    value (no paths are built; :func:`_not_json` then names what is wrong, if anything).
    ``False`` for anything else, cycles included."""
    stack = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is int or kind is bool or item is None:
            continue
        if kind is float:
            if not math.isfinite(item):
                return False
            continue
        if kind is dict:
            if id(item) in seen:
                return False
            seen.add(id(item))
            for key in item:
                if type(key) is not str:
                    return False
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            if id(item) in seen:
                return False
            seen.add(id(item))
            stack.extend(item)
        else:
            return False
    return True


def _walk(value: Any) -> Iterator[tuple[Any, str]]:
    """Each value in ``value`` with its path; a container met again is not walked again (a
    cycle ends here, and the engine's own check then refuses it as circular)."""
    stack: list[tuple[Any, str]] = [(value, "")]
    seen: set[int] = set()
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict | list | tuple):
            if id(item) in seen:
                continue
            seen.add(id(item))
        yield item, path
        if isinstance(item, dict):
            stack.extend(
                (child, f"{path}.{key}" if path else str(key)) for key, child in item.items()
            )
        elif isinstance(item, list | tuple):
            stack.extend(
                (child, f"{path}.{index}" if path else str(index))
                for index, child in enumerate(item)
            )
