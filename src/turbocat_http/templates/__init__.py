"""``/templates``: browse (public ones without an account) and instantiate."""
