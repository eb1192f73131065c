"""The PostgreSQL store: psycopg 3 async pool, plain SQL, numbered migrations."""

from turbocat_adapters.postgres.store import PostgresStore
from turbocat_adapters.postgres.uow import PostgresUnitOfWork

__all__ = ["PostgresStore", "PostgresUnitOfWork"]
