"""What a log line is about: the trace and span current where it was written (traces on)
and the execution being run, added to every record by :class:`Correlation`.

OpenTelemetry is read only once something imported it (``sys.modules``): a process with
tracing off pays a dictionary lookup per log line, nothing per step.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

FIELDS: Final = ("trace_id", "span_id", "execution_id")
_EXECUTION: ContextVar[str | None] = ContextVar("turbocat_execution", default=None)


@contextmanager
def running(execution_id: object) -> Iterator[None]:
    """Inside (and in the tasks started there), log lines name ``execution_id``."""
    token = _EXECUTION.set(str(execution_id))
    try:
        yield
    finally:
        _EXECUTION.reset(token)


def span_ids() -> dict[str, str]:
    """``trace_id`` and ``span_id`` of the current span (hex, as trace viewers show them),
    or nothing when no span is current."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return {}
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


def correlation() -> dict[str, str]:
    """The current trace, span and execution ids, those that are known."""
    ids = span_ids()
    execution_id = _EXECUTION.get()
    if execution_id is not None:
        ids["execution_id"] = execution_id
    return ids


class Correlation(logging.Filter):
    """Sets ``trace_id``, ``span_id`` and ``execution_id`` on each record (``""`` when
    unknown) for formats and JSON formatters that name them, and ``correlation``: the known
    ones as `` name=value`` pairs, for a format ending in ``%(correlation)s``. A record
    already carrying them (the HTTP request line, a JSON object) gets no pairs appended."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = correlation()
        for name in FIELDS:
            setattr(record, name, ids.get(name, ""))
        inline = ids and not hasattr(record, "http")
        record.correlation = "".join(f" {k}={v}" for k, v in ids.items()) if inline else ""
        return True


def configure_logging(level: str, format: str, *, datefmt: str | None = None) -> None:
    """``logging.basicConfig`` for a Turbocat process (server, worker): ``format`` followed
    by the record's correlation ids, on handlers that set them."""
    logging.basicConfig(level=level.upper(), format=format + "%(correlation)s", datefmt=datefmt)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, Correlation) for f in handler.filters):
            handler.addFilter(Correlation())
