"""``/deployments``: CRUD, start/stop and the event log of deployments."""
