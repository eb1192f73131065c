"""``/api-keys``: create (shown once), list, revoke."""
