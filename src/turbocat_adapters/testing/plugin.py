"""The pytest plugin of the testing kit: the fixtures ``turbocat`` and ``turbocat_faults``.

pytest loads it through the ``pytest11`` entry point wherever turbocat is installed, in
every test run: so it imports nothing but pytest when loaded (the runtime is imported by the
first test that asks for it) and never Hypothesis.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from turbocat_adapters.embedding import Turbocat
    from turbocat_adapters.testing.faults import Faults
    from turbocat_adapters.testing.runtime import TurbocatUnderTest


@pytest.fixture
def turbocat() -> Iterator[TurbocatUnderTest]:
    """A fresh test runtime for this test (``Turbocat.for_tests()``: in memory, its time
    skipping ahead whenever every run waits on it), not opened: a sync test calls
    ``turbocat.run_sync(workflow)``, an async test opens it with ``async with turbocat:``.
    Register the test's functions on it with ``@turbocat.function``. Closed after the test
    if the test left it open."""
    from turbocat_adapters.embedding import Turbocat

    runtime = Turbocat.for_tests()
    yield runtime
    _close_left_open(runtime)


@pytest.fixture
def turbocat_faults(turbocat: Turbocat) -> Faults:
    """Fault injection for the functions registered on the ``turbocat`` fixture's runtime:
    ``turbocat_faults.fail("fetch", times=2)``, ``.hang(...)``, ``.returns(...)``,
    ``.apply(plan)``, ``.calls("fetch")`` (``turbocat_adapters.testing.faults.Faults``)."""
    from turbocat_adapters.testing.faults import Faults

    return Faults(turbocat)


def _close_left_open(runtime: Turbocat) -> None:
    """Close ``runtime`` if the test left it open: in the loop it was opened in if that loop
    is still there; else (pytest-asyncio closes a test's loop before this teardown, which
    cancels the runs still going) in a loop of its own, the in-memory runtime having nothing
    left in the closed one."""
    loop = runtime.loop
    if loop is None:
        return
    close = runtime.__aexit__(None, None, None)
    if loop.is_running():
        close.close()
        pytest.fail(
            "the `turbocat` runtime is still open in a running event loop after the test: "
            "open it with `async with turbocat:`",
            pytrace=False,
        )
    if loop.is_closed():
        import asyncio

        asyncio.run(close)
    else:
        loop.run_until_complete(close)
