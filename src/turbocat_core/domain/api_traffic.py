"""What the API answered over the last minutes: counts per minute in fixed latency buckets,
and the figures ``GET /analytics/system-health`` computes from them.

Each minute keeps a small fixed-size record (requests, 4xx, 5xx, and one count per latency
bucket), wherever it is stored, so a whole deployment's minutes add up by summing. The
percentiles are estimated from the buckets as Prometheus' ``histogram_quantile`` does
(linear within the bucket the rank falls in); a rank in the last, open bucket reads as that
bucket's lower bound. A figure with no data is ``None`` with a note saying why.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Final

LATENCY_BOUNDS_MS: Final = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
"""Upper bounds of the latency buckets; a last bucket holds what is slower."""
WINDOWS_MINUTES: Final = (5, 60)
KEPT_MINUTES: Final = max(WINDOWS_MINUTES)


def bucket_of(seconds: float) -> int:
    """The latency bucket of a response time (``len(LATENCY_BOUNDS_MS)``: the open one)."""
    return bisect_left(LATENCY_BOUNDS_MS, seconds * 1000)


@dataclass(slots=True)
class MinuteCounts:
    """One minute's requests (or several minutes' added up)."""

    requests: int = 0
    client_errors: int = 0
    """4xx answers."""
    server_errors: int = 0
    """5xx answers."""
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS_MS) + 1))

    def add(self, status: int, seconds: float) -> None:
        self.requests += 1
        if status >= 500:
            self.server_errors += 1
        elif status >= 400:
            self.client_errors += 1
        self.buckets[bucket_of(seconds)] += 1

    def merge(self, other: MinuteCounts) -> None:
        self.requests += other.requests
        self.client_errors += other.client_errors
        self.server_errors += other.server_errors
        for index, count in enumerate(other.buckets):
            self.buckets[index] += count


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiTraffic:
    """The API over the current minute and the ``minutes - 1`` before it."""

    minutes: int
    requests: int
    requests_per_minute: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float | None
    """Share of 5xx answers."""
    client_error_rate: float | None
    """Share of 4xx answers."""
    note: str | None = None
    """Why the figures above are ``None`` (no request in the window)."""


def percentile(buckets: list[int], q: float) -> float | None:
    total = sum(buckets)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(buckets):
        if count and seen + count >= rank:
            lower = float(LATENCY_BOUNDS_MS[index - 1]) if index else 0.0
            if index == len(LATENCY_BOUNDS_MS):
                return lower  # past the last bound: at least that
            upper = float(LATENCY_BOUNDS_MS[index])
            return round(lower + (upper - lower) * (rank - seen) / count, 3)
        seen += count
    return float(LATENCY_BOUNDS_MS[-1])


def no_figures(minutes: int, note: str) -> ApiTraffic:
    """A window whose figures cannot be given, and why."""
    return ApiTraffic(
        minutes=minutes,
        requests=0,
        requests_per_minute=0.0,
        p50_ms=None,
        p95_ms=None,
        p99_ms=None,
        error_rate=None,
        client_error_rate=None,
        note=note,
    )


def traffic(counts: MinuteCounts, minutes: int) -> ApiTraffic:
    total = counts.requests
    if total == 0:
        return no_figures(minutes, f"no API request in the last {minutes} minutes")
    return ApiTraffic(
        minutes=minutes,
        requests=total,
        requests_per_minute=round(total / minutes, 3),
        p50_ms=percentile(counts.buckets, 0.50),
        p95_ms=percentile(counts.buckets, 0.95),
        p99_ms=percentile(counts.buckets, 0.99),
        error_rate=round(counts.server_errors / total, 6),
        client_error_rate=round(counts.client_errors / total, 6),
    )
