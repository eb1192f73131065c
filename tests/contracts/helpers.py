"""Shortcuts the contract suites share: store rows in one committed transaction, read them back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from turbocat_core import ports


async def put(factory: ports.UnitOfWorkFactory, repository: str, *entities: Any) -> None:
    """Add ``entities`` to ``uow.<repository>`` and commit."""
    async with factory() as uow:
        repo = getattr(uow, repository)
        for entity in entities:
            await repo.add(entity)
        await uow.commit()


async def change(factory: ports.UnitOfWorkFactory, repository: str, *entities: Any) -> None:
    """Update ``entities`` in ``uow.<repository>`` and commit."""
    async with factory() as uow:
        repo = getattr(uow, repository)
        for entity in entities:
            await repo.update(entity)
        await uow.commit()


async def fetch(factory: ports.UnitOfWorkFactory, repository: str, entity_id: UUID) -> Any:
    """``uow.<repository>.get(entity_id)`` in a transaction of its own."""
    async with factory() as uow:
        return await getattr(uow, repository).get(entity_id)


async def race(
    factory: ports.UnitOfWorkFactory,
    *writes: Callable[[ports.UnitOfWork], Awaitable[Any]],
    settle: float = 0.2,
) -> list[Any]:
    """Run each ``write`` in its own task and transaction, then commit them all.

    Each writer waits (up to ``settle`` seconds) until every writer has written, so in a
    store without row locks all writes happen before any commit. A store with row locks
    makes a later writer wait inside its write until the earlier one commits: the others
    stop waiting after ``settle`` and commit, so nothing deadlocks. Returns, per writer,
    the exception it raised, else what ``write`` returned.
    """
    wrote = [asyncio.Event() for _ in writes]

    async def run(index: int, write: Callable[[ports.UnitOfWork], Awaitable[Any]]) -> Any:
        async with factory() as uow:
            result = await write(uow)
            wrote[index].set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(settle):
                    for event in wrote:
                        await event.wait()
            await uow.commit()
            return result

    return await asyncio.gather(
        *(run(index, write) for index, write in enumerate(writes)), return_exceptions=True
    )
