"""The Hypothesis strategy of fault plans (``turbocat_adapters.testing.strategies.faults``).

A plan shrinks towards no fault at all: fewer scripted calls, and each one towards the real
function, so a failing example ends as the fewest faults that still break the test.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from turbocat_adapters.testing.faults import Hang, Outcome, Raise, Real, Return

_KEYS = st.text(string.ascii_lowercase, min_size=1, max_size=5)
_SMALL_OBJECTS = st.dictionaries(
    _KEYS,
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    max_size=3,
)


def faults(
    functions: Sequence[str],
    *,
    max_calls: int = 5,
    hang: bool = False,
    values: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[dict[str, tuple[Outcome, ...]]]:
    """Fault plans for ``functions`` (registered names), for ``Faults.apply``: for each, the
    outcomes of up to ``max_calls`` next calls, each raising (retryably or not), returning a
    value drawn from ``values`` (small JSON objects by default) or calling the real function.

    ``hang``: calls may also hang (:class:`Hang`): on a test runtime the step's or the run's
    timeout ends them in skipped time; on another runtime, only where a step has a short
    ``timeoutSeconds``.
    """
    if isinstance(functions, str):
        raise TypeError("faults() takes a list of function names, not one name")
    if not isinstance(max_calls, int) or max_calls < 0:
        raise ValueError(f"max_calls must be 0 or more, got {max_calls!r}")
    choices: list[st.SearchStrategy[Outcome]] = [
        st.just(Real()),
        st.builds(Raise, retryable=st.booleans().map(lambda fatal: not fatal)),
        st.builds(Return, values if values is not None else _SMALL_OBJECTS),
    ]
    if hang:
        choices.append(st.just(Hang()))
    outcome = st.one_of(choices)
    return st.fixed_dictionaries(
        {name: st.lists(outcome, max_size=max_calls).map(tuple) for name in functions}
    )
