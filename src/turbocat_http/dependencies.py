"""Use cases into handlers with Litestar's own ``Provide``, from the app's container.

``create_app`` keeps the container at ``app.state.container``. A router names what its
handlers need, and a handler asks for it by parameter name::

    router = Router(
        "/executions",
        route_handlers=[cancel],
        dependencies={"actor": ACTOR, **provide("cancel_execution", "retry_execution")},
    )

    @post("/{execution_id:uuid}/cancel")
    async def cancel(
        execution_id: FromPath[UUID], cancel_execution: NamedDependency[CancelExecution]
    ) -> Envelope[Execution]:
        ...

``provide(*names)`` gives each handler parameter ``name`` what ``container.<name>()`` returns,
once per request (a ``Factory`` gives a fresh use case, a ``Singleton`` the shared one).
Every use case a handler needs is a provider of the container, the one composition root:
a router only names them. No ``@inject``/``wire()``.

Litestar checks a dependency with ``isinstance`` against the parameter's annotation, which
a ``typing.Protocol`` (a port, ``Store``) refuses: annotate those
``store: NamedDependency[SkipValidation[Store]]``.
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
