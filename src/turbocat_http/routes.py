"""The registry of API resources: every router here is mounted under ``/api/v1``.

To add a resource, give it a package ``turbocat_http/<resource>/`` with ``routes.py`` (a
module-level ``router = Router("/<resource>", route_handlers=[...], dependencies={...},
tags=[...])``; use cases via ``turbocat_http.dependencies.provide``) and ``schemas.py`` (its
msgspec write Structs), then add the router to ``API_ROUTERS`` below. Litestar copies a
router when an app registers it, so building several apps (tests) from these is safe.
``create_app(container, routers=[...])`` mounts extra ones (tests, embedding programs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from turbocat_http.api_keys import routes as api_keys_routes
from turbocat_http.auth import routes as auth_routes
from turbocat_http.users import routes as users_routes

if TYPE_CHECKING:
    from litestar.types import ControllerRouterHandler

API_PREFIX: Final = "/api/v1"

API_ROUTERS: Final[tuple[ControllerRouterHandler, ...]] = (
    auth_routes.router,
    users_routes.router,
    api_keys_routes.router,
)
"""One entry per resource (auth, users, api-keys, agents, workflows, executions, ...)."""
