"""A server span per HTTP request (Litestar's OpenTelemetry middleware, around the whole app
so that 404s and refusals are traced too and the request log line carries the span's ids),
named after the route template once the router has matched one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from litestar.enums import ScopeType
from litestar.plugins.opentelemetry import OpenTelemetryConfig
from opentelemetry import trace

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from turbocat_adapters.tracing.spans import Tracing

UNTRACED: Final = ["^/health", "^/metrics"]
"""Probes and scrapes: frequent, and telling nothing about a run."""


def traced(app: ASGIApp, tracing: Tracing) -> ASGIApp:
    config = OpenTelemetryConfig(
        tracer_provider=tracing.provider,
        scope_span_details_extractor=_span_details,
        exclude=UNTRACED,
        exclude_spans=["receive", "send"],
    )
    return config.middleware_class(_named(app), config)


def _span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    """The method alone until routing is done: a raw path in a span's name would make one
    name per resource id (``_named`` renames it)."""
    return str(scope.get("method", "HTTP")), {}


def _named(app: ASGIApp) -> ASGIApp:
    """The request's span takes the matched route's template as its name and ``http.route``
    (``GET /api/v1/agents/{agent_id}``), when the response starts: the span ends with it."""

    async def named(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        method = scope["method"]
        span = trace.get_current_span()

        async def send_named(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = scope.get("path_template")
                if route and span.is_recording():
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
            await send(message)

        await app(scope, receive, send_named)

    return named
