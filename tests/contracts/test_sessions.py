"""Session-store contract: put/get, revoke, revoke every session of a user."""

from __future__ import annotations

from uuid import uuid4

from tests.contracts import factories as make
from tests.contracts.factories import T0, at


async def test_put_then_get(session_store):
    session = make.session()
    await session_store.put(session)
    assert await session_store.get(session.id) == session
    assert await session_store.get(uuid4()) is None


async def test_put_replaces_a_session(session_store):
    session = make.session()
    await session_store.put(session)
    rotated = session.rotated("new-hash", at(10))
    await session_store.put(rotated)
    assert await session_store.get(session.id) == rotated


async def test_a_revoked_session_reads_back_revoked(session_store, clock):
    session = make.session()
    await session_store.put(session)
    clock.advance(5)
    await session_store.revoke(session.id)
    revoked = await session_store.get(session.id)
    assert revoked is not None
    assert revoked.revoked_at == at(5)
    assert not revoked.active_at(at(6))
    clock.advance(5)
    await session_store.revoke(session.id)  # again: the first revocation time stays
    assert (await session_store.get(session.id)).revoked_at == at(5)
    await session_store.revoke(uuid4())  # unknown: nothing to do


async def test_revoke_all_revokes_every_session_of_one_user(session_store):
    owner, other = uuid4(), uuid4()
    mine = [make.session(owner) for _ in range(3)]
    theirs = make.session(other)
    for session in [*mine, theirs]:
        await session_store.put(session)
    await session_store.revoke(mine[0].id)
    assert await session_store.revoke_all(owner) == 2  # the ones still active
    for session in mine:
        assert (await session_store.get(session.id)).revoked_at is not None
    assert (await session_store.get(theirs.id)).active_at(T0)
    assert await session_store.revoke_all(owner) == 0
    assert await session_store.revoke_all(uuid4()) == 0
