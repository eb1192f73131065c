"""The tracer provider of a process, configured from ``OTEL_*`` as the SDK does, and what
the adapters need of it: the engine's observer, the queue's carrier, outbound transports."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, Final

import httpx
from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport, RequestInfo
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span

from turbocat_adapters.tracing.observer import SpanObserver

logger = logging.getLogger("turbocat.tracing")

TRACER: Final = "turbocat"
QUEUED_SPAN: Final = "queued"
_EXPORTER_GROUP: Final = "opentelemetry_traces_exporter"
_OTLP_BY_PROTOCOL: Final = {"grpc": "otlp_proto_grpc", "http/protobuf": "otlp_proto_http"}
_providers: dict[str, TracerProvider] = {}


class Tracing:
    """Traces on one tracer provider (the process's, or a test's)."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer(TRACER)
        self.observer = SpanObserver(self.tracer)
        """The engine's ``RunObserver``: a span per processing and per step attempt."""

    def carrier(self) -> dict[str, str]:
        """The current trace context as W3C headers (``traceparent``), for a queued job."""
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return carrier

    @contextmanager
    def continued(
        self, carrier: Mapping[str, str], *, queued_at: datetime | None = None
    ) -> Iterator[None]:
        """Inside, the trace context of ``carrier`` is current (what starts there, a run
        in a task, joins its trace); ``queued_at`` records the time the job waited as a
        ``queued`` span."""
        parent = propagate.extract(carrier)
        if queued_at is not None:
            span = self.tracer.start_span(
                QUEUED_SPAN,
                context=parent,
                kind=trace.SpanKind.CONSUMER,
                start_time=int(queued_at.timestamp() * 1e9),
            )
            span.end()
        token = context.attach(parent)
        try:
            yield
        finally:
            context.detach(token)

    def transport(self, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        """``inner`` with a client span per request (a child of the current span: a step
        attempt's), its trace context sent along in ``traceparent``."""
        return AsyncOpenTelemetryTransport(
            inner, tracer_provider=self.provider, request_hook=_without_query
        )


async def _without_query(span: Span, request: RequestInfo) -> None:
    """The URL without its query string or credentials: a step's URL may carry a key in it
    (``?api_key={{env.KEY}}``), and secrets never reach what is exported."""
    url = httpx.URL(str(request.url))
    bare = str(url.copy_with(query=None, fragment=None, username=None, password=None))
    recorded = getattr(span, "attributes", None) or {}
    for name in ("url.full", "http.url"):  # the new and the old conventions' names
        if name in recorded:
            span.set_attribute(name, bare)


def process_provider(env: Mapping[str, str]) -> TracerProvider:
    """This process's provider (built once, made the global one so that other
    instrumentation and users' own code join the same traces): the resource and sampler
    from ``OTEL_*`` as the SDK reads them, a batch processor per exporter named in
    ``OTEL_TRACES_EXPORTER`` (``otlp`` when only an endpoint is set)."""
    if TRACER not in _providers:
        resource = Resource.create()
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: "turbocat"}))
        provider = TracerProvider(resource=resource)
        for exporter in _exporters(env):
            provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        _providers[TRACER] = provider
    return _providers[TRACER]


def _exporters(env: Mapping[str, str]) -> Iterator[SpanExporter]:
    names = env.get("OTEL_TRACES_EXPORTER", "").strip() or "otlp"
    for name in (n.strip() for n in names.split(",")):
        if not name or name.lower() == "none":
            continue
        found = entry_points(group=_EXPORTER_GROUP, name=_entry_point(name, env))
        if not found:
            logger.error("OTEL_TRACES_EXPORTER: no trace exporter %r is installed", name)
            continue
        exporter: Any = next(iter(found)).load()
        yield exporter()


def _entry_point(name: str, env: Mapping[str, str]) -> str:
    """``otlp`` is gRPC unless ``OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL`` says otherwise (as
    the Python SDK's own configuration has it)."""
    if name != "otlp":
        return name
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    ) or "grpc"
    return _OTLP_BY_PROTOCOL.get(protocol.strip(), "otlp_proto_grpc")
