"""``/executions``: read, logs, cancel, retry and a live stream (Server-Sent Events)."""
