"""Use cases into handlers with Litestar's ``Provide``, from the container at
``app.state.container``: a router's ``dependencies={**provide("cancel_execution")}``, a
handler's ``cancel_execution: NamedDependency[CancelExecution]``.

Litestar checks a dependency with ``isinstance`` against its annotation, which a
``typing.Protocol`` (a port, ``Store``) refuses: annotate those
``NamedDependency[SkipValidation[Store]]``.
"""

# No ``from __future__ import annotations``: Litestar reads the dependency signatures at run time.

from typing import Any

from litestar.datastructures import State
from litestar.di import Provide

from turbocat_adapters.container import Container

CONTAINER_STATE_KEY = "container"


def container_of(state: State) -> Container:
    container: Container = state[CONTAINER_STATE_KEY]
    return container


def provide(*names: str) -> dict[str, Provide]:
    """The container's providers ``names``, as the dependencies of those names (a router's
    ``dependencies``); a name the container lacks is an ``AttributeError`` at import."""
    return {name: _provider(name) for name in names}


def _provider(name: str) -> Provide:
    if not hasattr(Container, name):
        raise AttributeError(f"the container has no provider {name!r}")

    def from_container(state: State) -> Any:
        return getattr(container_of(state), name)()

    return Provide(from_container, sync_to_thread=False)
