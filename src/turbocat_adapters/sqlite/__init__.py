"""The embedded SQLite store: one file, one worker thread, the ports' full contract."""

from __future__ import annotations

from turbocat_adapters.sqlite.store import SqliteStore
from turbocat_adapters.sqlite.uow import SqliteUnitOfWork

__all__ = ["SqliteStore", "SqliteUnitOfWork"]
