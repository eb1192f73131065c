"""The browser console at ``/``: server-rendered pages (Jinja2 through Litestar's templates,
htmx for fragments), its own static files, cookie sessions and CSRF checks (docs/console.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.plugins.htmx import HTMXRequest
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from turbocat_http.console import (
    analytics_pages,
    auth_pages,
    deployment_pages,
    run_pages,
    workflow_pages,
)
from turbocat_http.console.pages import PAGE_HEADERS, console_error
from turbocat_http.console.session import CONSOLE_ACTOR, csrf_config
from turbocat_http.dependencies import provide

if TYPE_CHECKING:
    from litestar.types import ControllerRouterHandler

    from turbocat_adapters.settings import Settings

HERE: Final = Path(__file__).parent
TEMPLATES: Final = HERE / "templates"
STATIC: Final = HERE / "static"
STATIC_PATH: Final = "/static"
CONSOLE_OPT: Final = "console"
"""Set in the ``opt`` of every console route: they sign in by cookie, never by API key."""

USE_CASES: Final = (
    "login",
    "logout",
    "list_executions",
    "list_workflows",
    "get_workflow",
    "import_workflow",
    "start_execution",
    "list_workflow_executions",
    "get_execution",
    "list_execution_logs",
    "watch_execution",
    "logs",
    "cancel_execution",
    "retry_execution",
    "list_deployments",
    "get_deployment",
    "start_deployment",
    "stop_deployment",
    "create_api_key",
    "list_api_keys",
    "revoke_api_key",
    "get_workflow_metrics",
)


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """The console's templates, every value autoescaped (``.html`` and ``.svg`` alike)."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def console_routers(settings: Settings) -> list[ControllerRouterHandler]:
    """The pages at ``/`` and their static files at ``/static``."""
    pages = Router(
        "/",
        route_handlers=[
            *auth_pages.HANDLERS,
            *run_pages.HANDLERS,
            *workflow_pages.HANDLERS,
            *deployment_pages.HANDLERS,
            *analytics_pages.HANDLERS,
        ],
        dependencies={"actor": CONSOLE_ACTOR, **provide(*USE_CASES)},
        middleware=[DefineMiddleware(CSRFMiddleware, config=csrf_config(settings))],
        exception_handlers={Exception: console_error},
        include_in_schema=False,
        opt={CONSOLE_OPT: True},
        request_class=HTMXRequest,  # request.htmx: Litestar's view of htmx's headers
    )
    static = create_static_files_router(
        STATIC_PATH,
        directories=[STATIC],
        name="console-static",
        include_in_schema=False,
        cache_control=CacheControlHeader(no_cache=True),
        opt={CONSOLE_OPT: True},
    )
    return [pages, static]


__all__ = ["CONSOLE_OPT", "PAGE_HEADERS", "console_routers", "template_config"]
