"""Session-store contract: put/get, revoke, revoke every session of a user."""

from __future__ import annotations

import asyncio
from dataclasses import replace
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
    rotated = replace(session, refresh_hash="new-hash", last_used_at=at(10))
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


async def test_every_field_reads_back_as_it_was_put(session_store):
    session = make.session(
        created_at=at(1.5),
        expires_at=at(7 * 24 * 3600),
        last_used_at=at(2.000001),
        ip_address="2001:db8::1",
        user_agent="Mozilla/5.0 (X11; Linux) — ünïcode 🐈",
        revoked_at=at(3),
    )
    await session_store.put(session)
    assert await session_store.get(session.id) == session


async def test_put_replaces_every_field_even_revoked_at(session_store, clock):
    session = make.session(ip_address="10.0.0.1", user_agent="first")
    await session_store.put(session)
    await session_store.revoke(session.id)
    replacement = make.session(
        session.user_id, id=session.id, refresh_hash="other", expires_at=at(60)
    )
    await session_store.put(replacement)  # a put is the whole session, as given
    assert await session_store.get(session.id) == replacement


async def test_a_revoked_or_expired_session_is_still_there(session_store, clock):
    session = make.session(expires_at=at(10))
    await session_store.put(session)
    clock.advance(20)
    expired = await session_store.get(session.id)
    assert expired == session
    assert not expired.active_at(at(20))
    assert await session_store.revoke_all(session.user_id) == 1  # expired, but not revoked
    assert (await session_store.get(session.id)).revoked_at == at(20)


async def test_concurrent_revoke_alls_count_each_session_once(session_store, clock):
    owner = uuid4()
    sessions = [make.session(owner) for _ in range(6)]
    for session in sessions:
        await session_store.put(session)
    await session_store.revoke(sessions[0].id)
    clock.advance(1)
    counts = await asyncio.gather(
        *(session_store.revoke_all(owner) for _ in range(4)),
        session_store.revoke(sessions[1].id),
    )
    revoked_by_revoke_all = sum(counts[:4])
    assert revoked_by_revoke_all in (4, 5)  # session 1: by revoke or by one revoke_all
    stored = [await session_store.get(session.id) for session in sessions]
    assert stored[0].revoked_at == T0  # the first revocation time stays
    assert all(session.revoked_at == at(1) for session in stored[1:])
    assert await session_store.revoke_all(owner) == 0


async def test_concurrent_revoke_alls_of_one_user_add_up(session_store):
    owner = uuid4()
    for _ in range(5):
        await session_store.put(make.session(owner))
    counts = await asyncio.gather(*(session_store.revoke_all(owner) for _ in range(3)))
    assert sum(counts) == 5


async def test_rotate_swaps_the_refresh_hash_only_while_it_still_matches(session_store):
    session = make.session()
    await session_store.put(session)
    later = at(3600)
    assert await session_store.rotate(session.id, session.refresh_hash, "h2", later, at(10))
    stored = await session_store.get(session.id)
    assert (stored.refresh_hash, stored.expires_at, stored.last_used_at) == ("h2", later, at(10))
    assert not await session_store.rotate(session.id, session.refresh_hash, "h3", later, at(11))
    assert (await session_store.get(session.id)).refresh_hash == "h2"
    assert not await session_store.rotate(uuid4(), "h2", "h3", later, at(11))


async def test_rotate_never_brings_back_a_revoked_session(session_store):
    session = make.session()
    await session_store.put(session)
    await session_store.revoke(session.id)
    assert not await session_store.rotate(session.id, session.refresh_hash, "h2", at(60), at(1))
    stored = await session_store.get(session.id)
    assert stored.revoked_at is not None and stored.refresh_hash == session.refresh_hash


async def test_of_two_racing_rotations_with_one_token_exactly_one_wins(session_store):
    session = make.session()
    await session_store.put(session)
    results = await asyncio.gather(
        session_store.rotate(session.id, session.refresh_hash, "a", at(60), at(1)),
        session_store.rotate(session.id, session.refresh_hash, "b", at(60), at(1)),
    )
    assert sorted(results) == [False, True]
    assert (await session_store.get(session.id)).refresh_hash == ("a" if results[0] else "b")


async def test_revoke_all_can_keep_the_callers_session(session_store):
    user = uuid4()
    mine, other = make.session(user_id=user), make.session(user_id=user)
    await session_store.put(mine)
    await session_store.put(other)
    assert await session_store.revoke_all(user, keep=mine.id) == 1
    assert (await session_store.get(mine.id)).revoked_at is None
    assert (await session_store.get(other.id)).revoked_at is not None


async def test_of_twenty_racing_rotations_with_one_token_exactly_one_wins(session_store):
    session = make.session()
    await session_store.put(session)
    results = await asyncio.gather(
        *(
            session_store.rotate(session.id, session.refresh_hash, f"h{n}", at(60), at(1))
            for n in range(20)
        )
    )
    assert results.count(True) == 1
    winner = results.index(True)
    assert (await session_store.get(session.id)).refresh_hash == f"h{winner}"
