"""The Prometheus metrics of a Turbocat process, and the engine observer that moves them.

The metrics live in prometheus-client's default registry, created once per process (a
process has one engine and one HTTP app). Under ``turbocat serve --workers N`` each server
process writes its values to ``PROMETHEUS_MULTIPROC_DIR`` and a scrape adds them up
(``scrape.py``). docs/operations.md lists every metric; keep it in step.

Label children are looked up once and cached: an observed step costs a few dictionary
lookups, one counter increment and one histogram observation.
"""

from __future__ import annotations

import os
import time
from typing import Final

from prometheus_client import Counter, Gauge, Histogram

from turbocat_core.domain.execution import Execution
from turbocat_core.engine.observer import ATTEMPT_RETRIED

SECONDS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RUN_SECONDS: Final = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
QUERY_SECONDS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

# --- HTTP --------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "turbocat_http_requests",
    "HTTP requests answered, by method, route template and status class.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "turbocat_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by method and route template.",
    ["method", "route"],
    buckets=SECONDS,
)
HTTP_IN_FLIGHT = Gauge(
    "turbocat_http_requests_in_flight",
    "HTTP requests being answered now.",
    multiprocess_mode="livesum",
)
_MULTIPROCESS: Final = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
"""As prometheus-client decided when it was imported (its values live in files then)."""
_in_flight = [0]
"""One process's requests in flight: a plain count read at scrape time (two lock-taking
gauge updates per request cost more), except in multiprocess mode, where the gauge is
updated in its file."""
if not _MULTIPROCESS:
    HTTP_IN_FLIGHT.set_function(lambda: _in_flight[0])

# --- the engine --------------------------------------------------------------------------
EXECUTIONS_STARTED = Counter(
    "turbocat_executions_started",
    "Executions that moved from PENDING to RUNNING, by trigger.",
    ["trigger"],
)
EXECUTIONS_FINISHED = Counter(
    "turbocat_executions_finished",
    "Executions that reached a final status, by status.",
    ["status"],
)
EXECUTION_DURATION = Histogram(
    "turbocat_execution_duration_seconds",
    "Time from an execution's start to its end, by final status.",
    ["status"],
    buckets=RUN_SECONDS,
)
EXECUTIONS_RUNNING = Gauge(
    "turbocat_executions_running",
    "Executions being processed now (a run parked on a long WAIT is not).",
    multiprocess_mode="livesum",
)
EXECUTIONS_RESUMED = Counter(
    "turbocat_executions_resumed",
    "RUNNING executions picked up again: after a parked WAIT, or after an interruption.",
    ["reason"],
)
WAITS_PARKED = Counter(
    "turbocat_waits_parked",
    "Times a run stopped holding its worker to wait for a long WAIT step.",
)
STEP_ATTEMPTS = Counter(
    "turbocat_step_attempts",
    "Step attempts that ended, by step type, agent type (AGENT steps) and outcome.",
    ["step_type", "agent_type", "outcome"],
)
STEP_DURATION = Histogram(
    "turbocat_step_duration_seconds",
    "Duration of step attempts, by step type and agent type.",
    ["step_type", "agent_type"],
    buckets=SECONDS,
)
STEP_RETRIES = Counter(
    "turbocat_step_retries",
    "Retries scheduled after a failed attempt, by step type and agent type.",
    ["step_type", "agent_type"],
)

# --- the fleet and the storage (the gauges are read at scrape time: scrape.py) ----------
LEASE_TAKEOVERS = Counter(
    "turbocat_lease_takeovers",
    "Unfinished executions nobody was running that the reaper queued again.",
)
DB_QUERY_DURATION = Histogram(
    "turbocat_db_query_duration_seconds",
    "PostgreSQL statements, from sending to the last row read, by kind (read or write).",
    ["kind"],
    buckets=QUERY_SECONDS,
)
DB_ERRORS = Counter(
    "turbocat_db_errors",
    "PostgreSQL errors, by the error they became (Conflict, ExternalServiceError...).",
    ["kind"],
)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


class HttpMetrics:
    """What the HTTP edge tells about each request (``turbocat_http.middleware``)."""

    __slots__ = ("_children",)

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def begun(self) -> None:
        if _MULTIPROCESS:
            HTTP_IN_FLIGHT.inc()
        else:
            _in_flight[0] += 1

    def ended(self, method: str, route: str, status: int, seconds: float) -> None:
        if _MULTIPROCESS:
            HTTP_IN_FLIGHT.dec()
        else:
            _in_flight[0] -= 1
        children = self._children.get((method, route, status))
        if children is None:
            children = self._children[(method, route, status)] = (
                HTTP_REQUESTS.labels(method, route, status_class(status)),
                HTTP_DURATION.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)


class PrometheusObserver:
    """``engine.observer.RunObserver`` on the metrics above."""

    __slots__ = ("_kinds",)

    def __init__(self) -> None:
        self._kinds: dict[tuple[str, str], _StepKind] = {}

    def processing(self, execution: Execution) -> _Processing:
        EXECUTIONS_RUNNING.inc()
        return _Processing(self)

    def kind(self, step_type: str, agent_type: str | None) -> _StepKind:
        key = (step_type, agent_type or "")
        kind = self._kinds.get(key)
        if kind is None:
            kind = self._kinds[key] = _StepKind(*key)
        return kind


class _StepKind:
    """The metric children of one (step type, agent type), looked up once."""

    __slots__ = ("duration", "labels", "outcomes", "retries")

    def __init__(self, step_type: str, agent_type: str) -> None:
        self.labels = (step_type, agent_type)
        self.outcomes: dict[str, Counter] = {}
        self.duration = STEP_DURATION.labels(step_type, agent_type)
        self.retries = STEP_RETRIES.labels(step_type, agent_type)

    def ended(self, outcome: str, seconds: float) -> None:
        counter = self.outcomes.get(outcome)
        if counter is None:
            counter = self.outcomes[outcome] = STEP_ATTEMPTS.labels(*self.labels, outcome)
        counter.inc()
        self.duration.observe(seconds)
        if outcome == ATTEMPT_RETRIED:
            self.retries.inc()


class _Processing:
    __slots__ = ("_ended", "_observer")

    def __init__(self, observer: PrometheusObserver) -> None:
        self._observer = observer
        self._ended = False

    def started(self, execution: Execution) -> None:
        EXECUTIONS_STARTED.labels(execution.trigger_type.value).inc()

    def resumed(self, execution: Execution, *, after_wait: bool) -> None:
        EXECUTIONS_RESUMED.labels("wait" if after_wait else "interruption").inc()

    def attempt(
        self, step_key: str, step_type: str, agent_type: str | None, attempt: int
    ) -> _Attempt:
        return _Attempt(self._observer.kind(step_type, agent_type))

    def retry_scheduled(self, step_key: str, attempt: int, delay_ms: float) -> None:
        pass  # counted with the attempt's outcome, which knows the step's types

    def parked(self, until: object) -> None:
        WAITS_PARKED.inc()

    def finished(self, execution: Execution) -> None:
        status = execution.status.value
        EXECUTIONS_FINISHED.labels(status).inc()
        if execution.duration_ms is not None:
            EXECUTION_DURATION.labels(status).observe(execution.duration_ms / 1000)

    def ended(self, error: BaseException | None = None) -> None:
        if not self._ended:
            self._ended = True
            EXECUTIONS_RUNNING.dec()


class _Attempt:
    __slots__ = ("_began", "_kind")

    def __init__(self, kind: _StepKind) -> None:
        self._kind = kind
        self._began = time.perf_counter()

    def ended(self, outcome: str, error_kind: str | None = None) -> None:
        self._kind.ended(outcome, time.perf_counter() - self._began)
