"""Use cases into handlers with Litestar's own ``Provide``, from the app's container.

``create_app`` keeps the container at ``app.state.container``. A router names what its
handlers need, and a handler asks for it by parameter name::

    router = Router(
        "/executions",
        route_handlers=[cancel],
        dependencies={"cancel_execution": provide("cancel_execution")},
    )

    @post("/{execution_id:uuid}/cancel")
    async def cancel(
        execution_id: FromPath[UUID], cancel_execution: NamedDependency[CancelExecution]
    ) -> Envelope[Execution]:
        ...

``provide(name)`` calls ``container.<name>()`` once per request (a ``Factory`` gives a fresh
use case, a ``Singleton`` the shared one); ``provide(lambda c: ...)`` for anything else.
No ``@inject``/``wire()``: the container is only the composition root.

Litestar checks a dependency with ``isinstance`` against the parameter's annotation, which
a ``typing.Protocol`` (a port, ``Store``) refuses: annotate those
``store: NamedDependency[SkipValidation[Store]]``.
"""

# No ``from __future__ import annotations``: Litestar reads the dependency signatures at run time.

from collections.abc import Callable
from typing import Any

from litestar.datastructures import State
from litestar.di import Provide

from turbocat_adapters.container import Container
from turbocat_adapters.settings import Settings

CONTAINER_STATE_KEY = "container"


def container_of(state: State) -> Container:
    container: Container = state[CONTAINER_STATE_KEY]
    return container


def provide(what: str | Callable[[Container], Any]) -> Provide:
    """A ``Provide`` of ``container.<what>()`` (or of ``what(container)``) for this request."""
    if isinstance(what, str):
        name = what
        if not hasattr(Container, name):
            raise AttributeError(f"the container has no provider {name!r}")

        def from_container(state: State) -> Any:
            return getattr(container_of(state), name)()

    else:
        factory = what

        def from_container(state: State) -> Any:
            return factory(container_of(state))

    return Provide(from_container, sync_to_thread=False)


def provide_settings() -> Provide:
    """The process's ``Settings`` (``settings: Settings`` in a handler)."""

    def settings(state: State) -> Settings:
        value: Settings = container_of(state).settings()
        return value

    return Provide(settings, sync_to_thread=False)
