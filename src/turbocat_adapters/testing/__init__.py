"""The users' testing kit: a time-skipping test runtime, Hypothesis strategies
(``turbocat_adapters.testing.strategies``, extra ``testing``) and a pytest plugin
(docs/testing.md).

Here: fault injection for registered functions (:class:`Faults`, and the outcomes it
scripts), and what a test asks of a finished run (:func:`assert_status`,
:func:`steps_ran`, :func:`attempts`). Imported when first used: the pytest plugin, loaded
in every test run, imports this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from turbocat_adapters.testing.assertions import assert_status, attempts, steps_ran
    from turbocat_adapters.testing.faults import (
        Call,
        FaultPlan,
        Faults,
        Hang,
        InjectedFault,
        Raise,
        Real,
        Return,
    )

__all__ = [
    "Call",
    "FaultPlan",
    "Faults",
    "Hang",
    "InjectedFault",
    "Raise",
    "Real",
    "Return",
    "assert_status",
    "attempts",
    "steps_ran",
]

_HOMES = {
    **dict.fromkeys(("assert_status", "attempts", "steps_ran"), "assertions"),
    **dict.fromkeys(
        ("Call", "FaultPlan", "Faults", "Hang", "InjectedFault", "Raise", "Real", "Return"),
        "faults",
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'turbocat_adapters.testing' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"turbocat_adapters.testing.{home}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
