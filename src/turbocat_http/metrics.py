"""``GET /metrics``: the Prometheus exposition (no user token; ``TURBOCAT_METRICS_TOKEN`` and
``TURBOCAT_METRICS_ALLOW`` may restrict it). Mounted only when metrics are on."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

import asyncio
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import SkipValidation

from turbocat_adapters.metrics.access import MetricsAccess
from turbocat_adapters.metrics.scrape import DeploymentCollector, render
from turbocat_http.dependencies import provide


@get(
    "/metrics",
    include_in_schema=False,
    dependencies=provide("metrics_access", "deployment_metrics"),
)
async def metrics(
    request: Request[Any, Any, Any],
    metrics_access: NamedDependency[SkipValidation[MetricsAccess]],
    deployment_metrics: NamedDependency[SkipValidation[DeploymentCollector]],
) -> Response[bytes]:
    """Every metric of this server (all its processes under ``serve --workers N``), with the
    queue's and the connection pool's figures read now."""
    client = request.client.host if request.client is not None else None
    metrics_access.check(request.headers.get("authorization"), client)
    body, content_type = await asyncio.to_thread(render, deployment_metrics)
    return Response(body, media_type=content_type)
