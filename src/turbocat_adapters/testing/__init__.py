"""The users' testing kit (docs/testing.md): the time-skipping test runtime
(``Turbocat.for_tests()``), Hypothesis strategies (``turbocat_adapters.testing.strategies``,
extra ``testing``) and a pytest plugin with the fixtures ``turbocat`` and
``turbocat_faults``.

Here too: fault injection for registered functions (:class:`Faults`, and the outcomes it
scripts), and what a test asks of a finished run (:func:`assert_status`,
:func:`steps_ran`, :func:`attempts`).

Importing this package imports neither Hypothesis nor pytest, nor (until one of its names
is used) the runtime: the pytest plugin, loaded in every test run, imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from turbocat_adapters.testing.assertions import assert_status, attempts, steps_ran
    from turbocat_adapters.testing.clock import VirtualClock
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
    from turbocat_adapters.testing.runtime import SeededRandom, TurbocatUnderTest

__all__ = [
    "Call",
    "FaultPlan",
    "Faults",
    "Hang",
    "InjectedFault",
    "Raise",
    "Real",
    "Return",
    "SeededRandom",
    "TurbocatUnderTest",
    "VirtualClock",
    "assert_status",
    "attempts",
    "steps_ran",
]

_HOMES = {
    **dict.fromkeys(("assert_status", "attempts", "steps_ran"), "assertions"),
    "VirtualClock": "clock",
    **dict.fromkeys(
        ("Call", "FaultPlan", "Faults", "Hang", "InjectedFault", "Raise", "Real", "Return"),
        "faults",
    ),
    **dict.fromkeys(("SeededRandom", "TurbocatUnderTest"), "runtime"),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'turbocat_adapters.testing' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"turbocat_adapters.testing.{home}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
