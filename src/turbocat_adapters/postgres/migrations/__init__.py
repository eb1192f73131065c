"""The numbered SQL migrations of the PostgreSQL store (``NNNN_name.sql``)."""
