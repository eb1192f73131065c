"""RQ: the fleet's job queue, its job entry point, and the `turbocat worker` runtime."""
