"""Health probes at the root (outside ``/api/v1`` and the envelope): ``/health``,
``/health/live``, ``/health/ready``."""

from turbocat_http.health.routes import health_router

__all__ = ["health_router"]
