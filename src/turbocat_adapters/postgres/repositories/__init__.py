"""The PostgreSQL repositories, one module per group of aggregates."""
