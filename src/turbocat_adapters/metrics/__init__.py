"""Metrics: Prometheus (``prometheus.py``, ``scrape.py``) and the API's own request figures
over the last minutes (``api_usage.py``, read by ``GET /analytics/system-health``)."""
