"""``/analytics``: overview, per-agent and per-workflow metrics, system health (ADMIN)."""
