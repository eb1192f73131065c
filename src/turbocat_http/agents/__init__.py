"""``/agents``: CRUD, duplicates (versions and forks) and version trees."""
