"""The OpenAPI document: config, security schemes, the error responses every route documents,
and the schema of domain dataclasses as ``to_wire`` writes them.

Route authors use :func:`error_responses` for the errors particular to a route
(``@post(..., responses=error_responses(404, 409))``) and :data:`AUTHENTICATED` as its
``security``; :func:`document_routes` adds the rest to every route when the app is built:
400/500/503 everywhere, 404 with path parameters, 413/415 with a JSON body, 401/403/429
when the route declares ``security``. A route's own ``responses`` win.

The names are what a generated client is made of (its functions, modules and classes), so
they are short and stable: each operation's ``operationId`` is its handler's name in
camelCase (``executeWorkflow``), and ``Envelope[Agent]`` / ``PageEnvelope[Agent]`` are the
schemas ``AgentEnvelope`` / ``AgentPage`` (:class:`EnvelopeSchemaPlugin`). A body annotated
``JSONBody[X | None] = None`` may be left out, and is documented so.
"""

from __future__ import annotations

import dataclasses
import html
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, get_args, get_origin

from litestar import Litestar, Request, Router
from litestar._openapi.utils import default_operation_id_creator  # the documented default
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
    SecurityRequirement,
    SecurityScheme,
)
from litestar.openapi.spec.schema import SchemaDataContainer
from litestar.params import KwargDefinition
from litestar.plugins import OpenAPISchemaPlugin
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router
from litestar.typing import FieldDefinition

from turbocat_core import __version__
from turbocat_core.domain.common import camel
from turbocat_http.middleware import use_docs_csp
from turbocat_http.requests import takes_json_body
from turbocat_http.schemas import Envelope, ErrorResponse, PageEnvelope

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.routes import BaseRoute
    from litestar.types import ControllerRouterHandler, Method
    from litestar.types.internal_types import PathParameterDefinition

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


def document_routes(app: Litestar) -> None:
    """Give every documented route its error responses (its own ``responses`` win), and
    mark the bodies it may go without."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            defaults = error_responses(*sorted(default_error_statuses(handler, route.path)))
            handler.responses = {**defaults, **(handler.responses or {})}
            if takes_optional_body(handler):
                handler.operation_class = OptionalBodyOperation


def takes_optional_body(handler: HTTPRouteHandler) -> bool:
    """``data: JSONBody[X | None] = None``: a request without a body is a request for X's
    defaults."""
    field = handler.parsed_fn_signature.parameters.get("data")
    return field is not None and field.is_optional and takes_json_body(handler)


@dataclasses.dataclass
class OptionalBodyOperation(Operation):
    """An operation whose JSON body may be left out. Litestar marks every ``requestBody``
    required, and documents ``X | None`` as "X or null"; this says "X, or no body" (a
    ``null`` body is still accepted, as the absent one)."""

    def __post_init__(self) -> None:
        if not isinstance(self.request_body, RequestBody):
            return
        self.request_body.required = False
        for media in self.request_body.content.values():
            schema = media.schema
            if isinstance(schema, Schema) and schema.one_of:
                present = [s for s in schema.one_of if s != Schema(type=OpenAPIType.NULL)]
                if len(present) == 1:
                    media.schema = present[0]


def operation_id(
    handler: HTTPRouteHandler, method: Method, path: list[str | PathParameterDefinition]
) -> str:
    """The API's own operations: the handler's name in camelCase (``executeWorkflow``), after
    the method for a handler of several. Routes mounted from elsewhere (``create_app(routers=
    ...)``) keep Litestar's path-based ids, so they never take one of the API's names.
    Litestar refuses a document where two operations share an id."""
    if not getattr(handler.fn, "__module__", "").startswith("turbocat_http."):
        return default_operation_id_creator(handler, method, path)
    name = camel(handler.handler_name)
    if len(handler.http_methods) == 1:
        return name
    return f"{method.lower()}{name[0].upper()}{name[1:]}"


class EnvelopeSchemaPlugin(OpenAPISchemaPlugin):
    """``Envelope[X]`` is the schema ``XEnvelope``, ``PageEnvelope[X]`` is ``XPage``
    (``Envelope[list[X]]``: ``XListEnvelope``) rather than the generic's spelling
    (``Envelope_turbocat_core.domain.agent.Agent_``, titled ``Envelope[Agent]``). The data
    is named after its type: give free-form data a ``NewType`` (``WorkflowFile``)."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        kwarg = field_definition.kwarg_definition
        named = isinstance(kwarg, KwargDefinition) and kwarg.schema_component_key is not None
        return field_definition.origin in (Envelope, PageEnvelope) and not named

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        name = envelope_name(field_definition.annotation)
        named = KwargDefinition(schema_component_key=name, schema_extra={"title": name})
        # Litestar's own msgspec plugin writes it, under this name and title.
        return SchemaDataContainer(data_container=Annotated[field_definition.annotation, named])


def envelope_name(annotation: Any) -> str:
    """``Envelope[Agent]`` -> ``AgentEnvelope``; ``PageEnvelope[Agent]`` -> ``AgentPage``."""
    suffix = "Page" if get_origin(annotation) is PageEnvelope else "Envelope"
    return _data_name(get_args(annotation)[0]) + suffix


def _data_name(annotation: Any) -> str:
    if get_origin(annotation) is list:
        return _data_name(get_args(annotation)[0]) + "List"
    name = getattr(annotation, "__name__", None)
    if get_origin(annotation) is not None or not isinstance(name, str):
        raise TypeError(f"envelope data {annotation!r} has no name: give it a NewType")
    return name[0].upper() + name[1:]


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
        operation_id_creator=operation_id,
    )
