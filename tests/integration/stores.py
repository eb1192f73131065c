"""Engine harnesses on each store kind, with the owner the SQL stores' foreign keys want."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

from tests.core.engine.harness import Harness
from tests.databases import empty_store
from turbocat_core.domain.user import User

H = TypeVar("H", bound=Harness)


@contextlib.asynccontextmanager
async def harness_on(
    kind: str,
    tmp_path: Path,
    dsn: str | None,
    make: type[H] = Harness,  # type: ignore[assignment]
) -> AsyncIterator[H]:
    """A harness (``make``) over an empty store of ``kind``; its queue closed afterwards."""
    async with empty_store(kind, tmp_path, dsn) as store:
        harness = make(store=store)
        now = harness.clock.now()
        async with store.unit_of_work() as uow:  # the SQL stores want the owner to exist
            await uow.users.add(
                User(
                    id=harness.owner,
                    created_at=now,
                    updated_at=now,
                    email=f"{harness.owner}@example.com",
                    password_hash="x",
                )
            )
            await uow.commit()
        yield harness
        await harness.queue.close()
