"""Fault injection for the Python functions a runtime runs as FUNCTION steps.

A :class:`Faults` bound to a runtime scripts what the next calls of a registered function
do, in order: raise, hang, return a given value, or call the real function; once a
function's script is spent, its calls go to the real function again. Every call is
recorded, with its inputs, so a test can say how often a step's function ran.

The functions stay registered as they are: the runtime calls them through a stand-in
(``Turbocat.wrap_functions``), so the engine sees exactly what a real function raising,
hanging or returning would give it (retries, timeouts, cancellation, bad return values).
"""

from __future__ import annotations

import asyncio
import copy
import inspect
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeAlias

from turbocat_adapters.testing.clock import VirtualClock
from turbocat_core.agents.function_agent import (
    FunctionContext,
    StepFunction,
    is_coroutine_function,
)
from turbocat_core.domain.common import ExecutionId
from turbocat_core.errors import NonRetryableError

if TYPE_CHECKING:
    from turbocat_adapters.embedding import Turbocat


class InjectedFault(Exception):
    """What a scripted :class:`Raise` raises (unless it is not retryable): the step's error
    then reads ``InjectedFault: <message>``."""


@dataclass(frozen=True, slots=True)
class Raise:
    """The call raises: :class:`InjectedFault` (the attempt fails and the step is retried,
    as for any exception) or, not ``retryable``, ``NonRetryableError`` (no retry)."""

    message: str = "injected fault"
    retryable: bool = True

    def error(self) -> Exception:
        return InjectedFault(self.message) if self.retryable else NonRetryableError(self.message)


@dataclass(frozen=True, slots=True)
class Hang:
    """The call never returns: the step's ``timeoutSeconds``, the run's, or a cancel ends it
    (it waits on the event loop, so cancellation interrupts it at once). On a test runtime
    (``Turbocat.for_tests()``) time may skip while it hangs, so a one-hour timeout ends it at
    once; on any other runtime the timeouts run in real time."""


@dataclass(frozen=True, slots=True)
class Return:
    """The call returns ``value`` (a copy of it each time), without calling the function."""

    value: Any


@dataclass(frozen=True, slots=True)
class Real:
    """The call goes to the real function (a script may let some calls through)."""


Outcome: TypeAlias = Raise | Hang | Return | Real
FaultPlan: TypeAlias = Mapping[str, Iterable[Outcome]]
"""What the next calls of each named function do, in order: ``{"fetch": [Raise(), Real()]}``."""

_OUTCOMES: Final = (Raise, Hang, Return, Real)
_REAL: Final = Real()


@dataclass(frozen=True, slots=True)
class Call:
    """One call of a function: the step and attempt that made it, a copy of the inputs it was
    given, and what it did (``Real()``: the real function ran)."""

    function: str
    execution_id: ExecutionId
    step_key: str
    attempt: int
    inputs: dict[str, Any]
    outcome: Outcome


class Faults:
    """Scripted outcomes for the functions registered on ``runtime``, and a record of their
    calls. One per runtime (a second one takes the functions over from the first).

    Each scripting method appends to the named function's script and returns ``self``, so
    ``faults.fail("fetch", times=2).returns("fetch", {"rows": []})`` fails the next two calls,
    returns on the third, and calls the real function from the fourth. Scripts and records
    count across every run of the runtime; :meth:`reset` clears both. A name that is not
    registered on the runtime is a ``ValueError``.
    """

    def __init__(self, runtime: Turbocat) -> None:
        self._runtime = runtime
        self._scripts: dict[str, deque[Outcome]] = {}
        self._calls: dict[str, list[Call]] = {}
        self._stand_ins: dict[str, tuple[StepFunction, StepFunction]] = {}
        """Each function's stand-in, with the function it stands in for."""
        clock = getattr(runtime, "clock", None)  # a test runtime's
        self._clock = clock if isinstance(clock, VirtualClock) else None
        runtime.wrap_functions(self._stand_in)

    def __repr__(self) -> str:
        scripted = {name: list(script) for name, script in self._scripts.items() if script}
        return f"<Faults {scripted or 'no faults'} over {self._runtime!r}>"

    # --- scripting --------------------------------------------------------------------

    def fail(
        self,
        function: str,
        times: int = 1,
        *,
        message: str = "injected fault",
        retryable: bool = True,
    ) -> Faults:
        """The next ``times`` calls raise (:class:`Raise`)."""
        return self._script(function, Raise(message, retryable), times)

    def hang(self, function: str, times: int = 1) -> Faults:
        """The next ``times`` calls never return (:class:`Hang`)."""
        return self._script(function, Hang(), times)

    def returns(self, function: str, value: Any, times: int = 1) -> Faults:
        """The next ``times`` calls return ``value`` (:class:`Return`)."""
        return self._script(function, Return(value), times)

    def apply(self, plan: FaultPlan) -> Faults:
        """Append each function's outcomes in ``plan`` to its script (a plan drawn by the
        ``faults()`` Hypothesis strategy, or written by hand). Checked whole before any of
        it is applied."""
        checked = {self._registered(name): list(outcomes) for name, outcomes in plan.items()}
        for name, outcomes in checked.items():
            for outcome in outcomes:
                if not isinstance(outcome, _OUTCOMES):
                    raise TypeError(
                        f"faults for {name!r}: {outcome!r} is not a Raise, Hang, Return or Real"
                    )
        for name, outcomes in checked.items():
            self._scripts.setdefault(name, deque()).extend(outcomes)
        return self

    def reset(self) -> None:
        """Forget every script and every recorded call: all calls go to the real functions."""
        self._scripts.clear()
        self._calls.clear()

    # --- reading ----------------------------------------------------------------------

    def calls(self, function: str) -> tuple[Call, ...]:
        """The calls of ``function`` so far (since the last :meth:`reset`), in the order they
        were made: ``len(faults.calls("fetch"))`` is how many times it was called."""
        return tuple(self._calls.get(self._registered(function), ()))

    def pending(self, function: str) -> tuple[Outcome, ...]:
        """What the next calls of ``function`` will do before it is called for real."""
        return tuple(self._scripts.get(self._registered(function), ()))

    # --- the stand-ins ----------------------------------------------------------------

    def _script(self, function: str, outcome: Outcome, times: int) -> Faults:
        if not isinstance(times, int) or isinstance(times, bool) or times < 0:
            raise ValueError(f"times must be a whole number of calls (0 or more), got {times!r}")
        self._scripts.setdefault(self._registered(function), deque()).extend([outcome] * times)
        return self

    def _registered(self, function: str) -> str:
        if function not in self._runtime.functions:
            known = ", ".join(self._runtime.functions) or "none"
            raise ValueError(
                f"function {function!r} is not registered on this runtime (registered: {known})"
            )
        return function

    def _stand_in(self, name: str, real: StepFunction) -> StepFunction:
        """What the runtime calls instead of ``real``: made once per function."""
        known = self._stand_ins.get(name)
        if known is not None and known[0] is real:
            return known[1]
        real_is_async = is_coroutine_function(real)

        async def stand_in(inputs: dict[str, Any], ctx: FunctionContext) -> Any:
            script = self._scripts.get(name)
            outcome = script.popleft() if script else _REAL
            made = Call(
                name, ctx.execution_id, ctx.step_key, ctx.attempt, copy.deepcopy(inputs), outcome
            )
            self._calls.setdefault(name, []).append(made)
            if isinstance(outcome, Raise):
                raise outcome.error()
            if isinstance(outcome, Hang):
                if self._clock is None:
                    await _forever()
                with self._clock.skippable():  # only waiting: time need not wait for it
                    await _forever()
            if isinstance(outcome, Return):
                return copy.deepcopy(outcome.value)
            if real_is_async:
                return await real(inputs, ctx)
            # As the runtime runs a sync function: in a worker thread, off the event loop.
            result = await asyncio.to_thread(real, inputs, ctx)
            return await result if inspect.isawaitable(result) else result

        stand_in.__qualname__ = stand_in.__name__ = f"faulty_{name}"
        self._stand_ins[name] = (real, stand_in)
        return stand_in


async def _forever() -> NoReturn:
    """Wait until cancelled (a step's timeout is a cancellation too)."""
    await asyncio.get_running_loop().create_future()
    raise AssertionError("a future nobody resolves was resolved")  # pragma: no cover
