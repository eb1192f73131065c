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

from turbocat_http.agents import routes as agents_routes
from turbocat_http.analytics import routes as analytics_routes
from turbocat_http.api_keys import routes as api_keys_routes
from turbocat_http.audit import routes as audit_routes
from turbocat_http.auth import routes as auth_routes
from turbocat_http.deployments import routes as deployments_routes
from turbocat_http.executions import routes as executions_routes
from turbocat_http.hooks import routes as hooks_routes
from turbocat_http.templates import routes as templates_routes
from turbocat_http.users import routes as users_routes
from turbocat_http.workflows import routes as workflows_routes

if TYPE_CHECKING:
    from litestar.types import ControllerRouterHandler

API_PREFIX: Final = "/api/v1"

API_ROUTERS: Final[tuple[ControllerRouterHandler, ...]] = (
    auth_routes.router,
    users_routes.router,
    api_keys_routes.router,
    agents_routes.router,
    workflows_routes.router,
    executions_routes.router,
    templates_routes.router,
    deployments_routes.router,
    hooks_routes.router,
    analytics_routes.router,
    audit_routes.router,
)
"""One entry per resource (auth, users, api-keys, agents, workflows, executions, ...)."""
