"""Every async test here runs on asyncio's own loop and on uvloop (what `turbocat serve`
runs on), with a runner at each isolation level this machine offers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvloop

from tests.adapters.code.helpers import LEVELS, ROOT
from turbocat_adapters.code import Isolation, SubprocessCodeRunner
from turbocat_core.agents.failures import AgentFailure


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Any]:
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@pytest.fixture(params=list(LEVELS))
async def runner(request: pytest.FixtureRequest) -> SubprocessCodeRunner:
    """A runner at the level named by the parameter; skipped where that level is not to be
    had (``namespaces`` and ``uid`` need root, ``namespaces`` a working ``unshare``,
    ``bubblewrap`` a working ``bwrap``)."""
    if request.param != "bubblewrap" and not ROOT:
        pytest.skip(f"{request.param} needs a root runner")
    runner = SubprocessCodeRunner(**LEVELS[request.param])
    try:
        level = await runner.isolation()
    except AgentFailure as failure:
        pytest.skip(str(failure))
    if request.param == "namespaces" and level is Isolation.UID:
        pytest.skip("unshare is refused here")
    assert str(level) == request.param
    return runner
