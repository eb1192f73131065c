"""OpenTelemetry traces (the ``otel`` extra): on when the standard ``OTEL_*`` variables name
an exporter or an OTLP endpoint, off otherwise.

Nothing here imports OpenTelemetry: a process without the extra, or with tracing off, pays
nothing (the container then has no :class:`~turbocat_adapters.tracing.spans.Tracing`, and
the engine's observer, the queue and the outbound transports are what they are without it).
docs/operations.md, "Traces", says what is traced.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from turbocat_adapters.tracing.spans import Tracing

logger = logging.getLogger("turbocat.tracing")

MISSING_EXTRA = (
    "OTEL_* variables ask for traces, but the OpenTelemetry packages are not installed: "
    "pip install 'turbocat[otel]' (tracing stays off)"
)
_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def configured(env: Mapping[str, str]) -> bool:
    """Whether the environment asks for traces, as the OpenTelemetry SDK reads it: an
    exporter in ``OTEL_TRACES_EXPORTER`` (not ``none``), or an OTLP endpoint (the exporter
    then defaults to ``otlp``), and the SDK not disabled (``OTEL_SDK_DISABLED``)."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return any(env.get(name, "").strip() for name in _ENDPOINTS)


def tracing_from_environment(env: Mapping[str, str] | None = None) -> Tracing | None:
    """This process's tracing, or ``None`` when off (one warning when the variables ask for
    it and the extra is missing). The tracer provider is built once per process."""
    env = os.environ if env is None else env
    if not configured(env):
        return None
    try:
        from turbocat_adapters.tracing.spans import Tracing, process_provider
    except ImportError:
        _warn_missing()
        return None
    return Tracing(process_provider(env))


_warned: list[bool] = []


def _warn_missing() -> None:
    if not _warned:
        _warned.append(True)
        logger.warning(MISSING_EXTRA)
