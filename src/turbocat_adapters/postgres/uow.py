"""The PostgreSQL unit of work: every repository over one pooled connection's transaction."""

from __future__ import annotations

from turbocat_adapters.postgres.session import Pool, Session
from turbocat_adapters.sql.uow import SqlUnitOfWork


class PostgresUnitOfWork(SqlUnitOfWork):
    """One transaction on a connection taken with ``pool.getconn`` (``pool.connection()``
    would commit on a clean exit); leaving gives it back."""

    __slots__ = ("_session",)

    def __init__(self, pool: Pool) -> None:
        session = self._session = Session(pool)
        super().__init__(session)

    @property
    def _transaction(self) -> Session:
        return self._session
