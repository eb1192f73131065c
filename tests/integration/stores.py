"""Engine harnesses on each store kind, with the owner the SQL stores' foreign keys want."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

from tests.core.engine.harness import Harness, ensure_user
from tests.databases import empty_store

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
        async with store.unit_of_work() as uow:  # every store wants the owner to exist
            await ensure_user(uow, harness.owner)
            await uow.commit()
        yield harness
        await harness.queue.close()
