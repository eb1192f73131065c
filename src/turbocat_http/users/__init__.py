"""``/users``: the caller's account, and any account for ADMINs."""
