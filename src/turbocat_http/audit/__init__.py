"""``/audit-logs``: the audit log, for ADMINs."""
