"""The OpenAPI document: config, security schemes, the error responses every route documents,
and the schema of domain dataclasses as ``to_wire`` writes them.

Route authors use :func:`error_responses` for the errors particular to a route
(``@post(..., responses=error_responses(404, 409))``) and :data:`AUTHENTICATED` as its
``security``; :func:`document_errors` adds the rest to every route when the app is built:
400/500/503 everywhere, 404 with path parameters, 413/415 with a JSON body, 401/403/429
when the route declares ``security``. A route's own ``responses`` win.
"""

from __future__ import annotations

import dataclasses
import html
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from litestar import Litestar, Request, Router
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme
from litestar.plugins import OpenAPISchemaPlugin
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router
from litestar.typing import FieldDefinition

from turbocat_adapters.wire import camel
from turbocat_core import __version__
from turbocat_http.middleware import use_docs_csp
from turbocat_http.requests import takes_json_body
from turbocat_http.schemas import ErrorResponse

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Schema
    from litestar.routes import BaseRoute
    from litestar.types import ControllerRouterHandler

BEARER_AUTH: Final = "bearerAuth"
API_KEY_AUTH: Final = "apiKeyAuth"
SECURITY_SCHEMES: Final[dict[str, SecurityScheme]] = {
    BEARER_AUTH: SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="JWT",
        description="An access token from /auth/login or /auth/refresh (15 minutes).",
    ),
    API_KEY_AUTH: SecurityScheme(
        type="apiKey",
        name="X-API-Key",
        security_scheme_in="header",
        description="An API key from POST /api-keys (scoped, rate limited).",
    ),
}
AUTHENTICATED: Final[list[SecurityRequirement]] = [{BEARER_AUTH: []}, {API_KEY_AUTH: []}]
"""``security=AUTHENTICATED``: a bearer token or an API key."""
BEARER_ONLY: Final[list[SecurityRequirement]] = [{BEARER_AUTH: []}]

ERROR_DESCRIPTIONS: Final[Mapping[int, str]] = {
    400: "BAD_REQUEST (malformed) or VALIDATION_ERROR (`details` name each field)",
    401: "UNAUTHORIZED, INVALID_CREDENTIALS, TOKEN_EXPIRED or INVALID_TOKEN",
    403: "FORBIDDEN",
    404: "NOT_FOUND (also another user's private resource)",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT, ALREADY_EXISTS or INVALID_STATE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE (send Content-Type: application/json)",
    429: "RATE_LIMITED (see Retry-After)",
    500: "INTERNAL_ERROR (quote the requestId)",
    503: "SERVICE_UNAVAILABLE",
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """``responses=`` entries answering the ``ErrorResponse`` envelope for these statuses."""
    return {
        status: ResponseSpec(
            data_container=ErrorResponse,
            description=ERROR_DESCRIPTIONS.get(status, "error"),
            generate_examples=False,
        )
        for status in statuses
    }


def default_error_statuses(handler: HTTPRouteHandler, path: str) -> set[int]:
    statuses = {400, 500, 503}
    if "{" in path:
        statuses.add(404)
    if takes_json_body(handler):
        statuses |= {413, 415}
    if handler.resolve_security():
        statuses |= {401, 403, 429}
    return statuses


def document_errors(app: Litestar) -> None:
    """Give every documented route its error responses (its own ``responses`` win)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            defaults = error_responses(*sorted(default_error_statuses(handler, route.path)))
            handler.responses = {**defaults, **(handler.responses or {})}


class WireSchemaPlugin(OpenAPISchemaPlugin):
    """Domain dataclasses (``turbocat_core``) documented as ``to_wire`` encodes them: camelCase
    names, ``repr=False`` fields (hashes) left out, every field always present."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        module = getattr(field_definition.type_, "__module__", "") or ""
        return field_definition.is_dataclass_type and module.startswith("turbocat_core.")

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        hints = field_definition.get_type_hints(include_extras=True, resolve_generics=True)
        public = [f for f in dataclasses.fields(field_definition.type_) if f.repr]
        return schema_creator.create_component_schema(
            field_definition,
            required=sorted(camel(f.name) for f in public),
            property_fields={
                camel(f.name): FieldDefinition.from_kwarg(
                    annotation=hints[f.name], name=camel(f.name)
                )
                for f in public
            },
        )


SWAGGER_ASSETS: Final = Path(__file__).with_name("swagger")
"""This server's own file of the docs page (the script that starts Swagger UI)."""
DOCS_ASSETS_PATH: Final = "/docs/assets"


def swagger_ui_directory() -> Path:
    """Swagger UI's distribution files as the ``swagger-ui-py`` package installs them. Found
    without importing that package, whose ``__init__`` loads its web-framework adapters."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("Swagger UI's files are missing: pip install swagger-ui-py")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


class LocalSwaggerRenderPlugin(OpenAPIRenderPlugin):
    """Swagger UI served from this server's own files under ``{prefix}/docs/assets``, so the
    docs work without internet and their CSP (``middleware.DOCS_CSP``) allows 'self' only."""

    def __init__(self, prefix: str) -> None:
        super().__init__(path="/docs")
        self.assets = f"{prefix}{DOCS_ASSETS_PATH}"
        self.spec_url = f"{prefix}/openapi.json"

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        use_docs_csp(request.scope)
        title = html.escape(str(openapi_schema["info"]["title"]))
        assets, spec_url = html.escape(self.assets), html.escape(self.spec_url)
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
<link rel="stylesheet" href="{assets}/index.css">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec_url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/turbocat-swagger.js"></script>
</body>
</html>
""".encode()

    def receive_router(self, router: Router) -> None:
        """Serve the assets (Swagger UI's own files; ours first). No ``oauth2-redirect.html``:
        no security scheme here is OAuth2."""
        router.register(
            create_static_files_router(
                DOCS_ASSETS_PATH,
                directories=[SWAGGER_ASSETS, swagger_ui_directory()],
                name="docs-assets",
                include_in_schema=False,
            )
        )


class DocsRouter(Router):
    """The router of the docs pages. Litestar also registers on it a catch-all
    ``/{path:str}`` (an HTML 404); under ``/api/v1`` that would answer every unknown
    one-segment path (in HTML, or 405 for other methods), so it is left out."""

    def register(self, value: ControllerRouterHandler) -> list[BaseRoute]:
        if isinstance(value, HTTPRouteHandler) and "/{path:str}" in value.paths:
            return []
        return super().register(value)


def openapi_config(prefix: str) -> OpenAPIConfig:
    """``{prefix}/openapi.json`` and the Swagger UI at ``{prefix}/docs`` (and ``{prefix}``)."""
    return OpenAPIConfig(
        title="Turbocat",
        version=__version__,
        description=(
            "Workflows and agents over HTTP. Every answer is an envelope: "
            '`{"success": true, "data": ...}` or `{"success": false, "error": '
            '{"code", "message", "details"?, "requestId"}}`; every response carries '
            "`X-Request-Id`."
        ),
        path=prefix,
        openapi_router=DocsRouter(prefix, route_handlers=[], include_in_schema=False),
        render_plugins=[
            LocalSwaggerRenderPlugin(prefix),
            JsonRenderPlugin(path="/openapi.json"),
        ],
        components=Components(security_schemes=dict(SECURITY_SCHEMES)),
        use_handler_docstrings=True,
    )
