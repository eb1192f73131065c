"""``/workflows``: CRUD with steps, execute, executions, import and export."""
