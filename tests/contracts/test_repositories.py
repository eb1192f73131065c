"""Repository contract: round trips, copies in and out, soft delete and uniqueness."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from uuid import uuid4

import pytest

from tests.contracts import factories as make
from tests.contracts.factories import T0, at
from tests.contracts.helpers import change, fetch, put
from turbocat_core.domain.common import ListQuery
from turbocat_core.domain.user import LOCAL_OWNER_ID, UserRole
from turbocat_core.errors import Conflict, NotFound


@dataclass(frozen=True)
class Aggregate:
    repository: str
    make: Callable[[], Any]
    json_field: str
    """A dict field, to check copies."""
    edit: dict[str, Any]
    """Fields an update changes."""
    soft: bool = True


AGGREGATES = [
    Aggregate("users", make.user, "preferences", {"full_name": "Grace", "role": UserRole.ADMIN}),
    Aggregate("agents", make.agent, "config", {"name": "renamed", "version": 2}),
    Aggregate("workflows", make.workflow, "definition", {"name": "renamed", "max_concurrency": 2}),
    Aggregate("templates", make.template, "template_data", {"category": "other", "usage_count": 4}),
    Aggregate("deployments", make.deployment, "config", {"name": "renamed"}),
    Aggregate("api_keys", make.api_key, "", {"name": "renamed", "usage_count": 3}),
    Aggregate("executions", make.execution, "input_data", {"steps_total": 5}, soft=False),
]
SOFT = [aggregate for aggregate in AGGREGATES if aggregate.soft]


def ids(aggregate: Aggregate) -> str:
    return aggregate.repository


@pytest.mark.parametrize("aggregate", AGGREGATES, ids=ids)
async def test_add_then_get_returns_an_equal_entity(uow_factory, aggregate: Aggregate):
    entity = aggregate.make()
    await put(uow_factory, aggregate.repository, entity)
    assert await fetch(uow_factory, aggregate.repository, entity.id) == entity


@pytest.mark.parametrize("aggregate", AGGREGATES, ids=ids)
async def test_get_of_an_unknown_id_is_none(uow_factory, aggregate: Aggregate):
    assert await fetch(uow_factory, aggregate.repository, uuid4()) is None


@pytest.mark.parametrize("aggregate", AGGREGATES, ids=ids)
async def test_update_replaces_the_row(uow_factory, aggregate: Aggregate):
    entity = aggregate.make()
    await put(uow_factory, aggregate.repository, entity)
    edited = replace(entity, updated_at=at(60), **aggregate.edit)
    await change(uow_factory, aggregate.repository, edited)
    assert await fetch(uow_factory, aggregate.repository, entity.id) == edited


@pytest.mark.parametrize("aggregate", AGGREGATES, ids=ids)
async def test_update_of_an_unknown_row_is_not_found(uow_factory, aggregate: Aggregate):
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await getattr(uow, aggregate.repository).update(aggregate.make())


@pytest.mark.parametrize("aggregate", AGGREGATES, ids=ids)
async def test_adding_an_existing_id_is_a_conflict(uow_factory, aggregate: Aggregate):
    entity = aggregate.make()
    await put(uow_factory, aggregate.repository, entity)
    twin = replace(aggregate.make(), id=entity.id)
    async with uow_factory() as uow:
        with pytest.raises(Conflict):
            await getattr(uow, aggregate.repository).add(twin)


@pytest.mark.parametrize("aggregate", AGGREGATES, ids=ids)
async def test_a_duplicate_id_within_one_transaction_is_a_conflict(uow_factory, aggregate):
    entity = aggregate.make()
    async with uow_factory() as uow:
        repo = getattr(uow, aggregate.repository)
        await repo.add(entity)
        with pytest.raises(Conflict):
            await repo.add(replace(aggregate.make(), id=entity.id))


@pytest.mark.parametrize("aggregate", [a for a in AGGREGATES if a.json_field], ids=ids)
async def test_mutating_what_was_passed_in_or_read_out_never_changes_storage(
    uow_factory, aggregate: Aggregate
):
    entity = aggregate.make()
    original = copy.deepcopy(entity)
    async with uow_factory() as uow:
        repo = getattr(uow, aggregate.repository)
        await repo.add(entity)
        getattr(entity, aggregate.json_field)["added"] = {"after": "add"}
        pending = await repo.get(entity.id)
        getattr(pending, aggregate.json_field)["added"] = "inside"
        await uow.commit()
    read = await fetch(uow_factory, aggregate.repository, entity.id)
    assert read == original
    getattr(read, aggregate.json_field).clear()
    async with uow_factory() as uow:
        listed = await getattr(uow, aggregate.repository).list(ListQuery())
        getattr(listed.items[0], aggregate.json_field)["x"] = 1
    assert await fetch(uow_factory, aggregate.repository, entity.id) == original


async def test_nested_values_are_copied_deeply(uow_factory):
    agent = make.agent(config={"headers": {"a": "b"}, "list": [{"k": [1]}]})
    await put(uow_factory, "agents", agent)
    agent.config["headers"]["a"] = "changed"
    agent.config["list"][0]["k"].append(2)
    read = await fetch(uow_factory, "agents", agent.id)
    assert read.config == {"headers": {"a": "b"}, "list": [{"k": [1]}]}
    read.config["list"][0]["k"].append(3)
    assert (await fetch(uow_factory, "agents", agent.id)).config["list"][0]["k"] == [1]


async def test_an_execution_snapshot_of_steps_is_copied(uow_factory):
    execution = make.execution()
    await put(uow_factory, "executions", execution)
    execution.steps[0].config["x"]["y"].append("outside")
    read = await fetch(uow_factory, "executions", execution.id)
    assert read.steps[0].config == {"x": {"y": [1]}}
    read.steps[0].inputs["v"] = "changed"
    assert (await fetch(uow_factory, "executions", execution.id)).steps[0].inputs == {
        "v": "{{inputs.v}}"
    }


# --- soft delete -----------------------------------------------------------------------


@pytest.mark.parametrize("aggregate", SOFT, ids=ids)
async def test_a_soft_deleted_row_reads_as_absent(uow_factory, aggregate: Aggregate):
    entity, other = aggregate.make(), aggregate.make()
    await put(uow_factory, aggregate.repository, entity, other)
    await change(uow_factory, aggregate.repository, replace(entity, deleted_at=at(5)))
    async with uow_factory() as uow:
        repo = getattr(uow, aggregate.repository)
        assert await repo.get(entity.id) is None
        page = await repo.list(ListQuery())
        # Every store has the built-in local owner besides (docs/storage.md).
        builtin = 1 if aggregate.repository == "users" else 0
        assert [row.id for row in page.items if row.id != LOCAL_OWNER_ID] == [other.id]
        assert page.total == 1 + builtin
        with pytest.raises(NotFound):
            await repo.update(replace(entity, deleted_at=None))


@pytest.mark.parametrize("aggregate", SOFT, ids=ids)
async def test_a_soft_deleted_id_cannot_be_added_again(uow_factory, aggregate: Aggregate):
    entity = aggregate.make()
    await put(uow_factory, aggregate.repository, entity)
    await change(uow_factory, aggregate.repository, replace(entity, deleted_at=at(5)))
    async with uow_factory() as uow:
        with pytest.raises(Conflict):
            await getattr(uow, aggregate.repository).add(replace(entity, deleted_at=None))


async def test_soft_deleted_rows_are_hidden_from_lookups_and_trees(uow_factory):
    person = make.user()
    key = make.api_key()
    root = make.agent()
    child = make.agent(parent_id=root.id, version=2, user_id=root.user_id)
    public = make.template(category="gone", is_public=True)
    await put(uow_factory, "users", person)
    await put(uow_factory, "api_keys", key)
    await put(uow_factory, "agents", root, child)
    await put(uow_factory, "templates", public)
    async with uow_factory() as uow:
        await uow.users.update(replace(person, deleted_at=at(1)))
        await uow.api_keys.update(replace(key, deleted_at=at(1)))
        await uow.agents.update(replace(child, deleted_at=at(1)))
        await uow.templates.update(replace(public, deleted_at=at(1)))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.users.get_by_email(person.email) is None
        assert await uow.api_keys.get_by_hash(key.key_hash) is None
        assert [a.id for a in await uow.agents.versions(root.id)] == [root.id]
        assert await uow.templates.categories() == []


# --- uniqueness ------------------------------------------------------------------------


async def test_emails_are_unique_case_insensitively(uow_factory):
    first = make.user(email="Ada@Example.com")
    await put(uow_factory, "users", first)
    async with uow_factory() as uow:
        found = await uow.users.get_by_email("ADA@example.COM")
        assert found is not None
        assert found.id == first.id
        assert found.email == "ada@example.com"  # stored normalised
        with pytest.raises(Conflict):
            await uow.users.add(make.user(email="ada@EXAMPLE.com"))


async def test_emails_are_unique_after_nfkc_and_without_invisible_characters(uow_factory):
    """Fullwidth letters and zero-width characters do not make another address (issue 11)."""
    first = make.user(email="\uff21\uff22@Example.com")  # fullwidth "AB"
    await put(uow_factory, "users", first)
    async with uow_factory() as uow:
        for variant in ("ab@example.com", "a\u200bb@example.com", "\ufeffAB@EXAMPLE.COM"):
            found = await uow.users.get_by_email(variant)
            assert found is not None and found.id == first.id, variant
        assert found.email == "ab@example.com"  # stored in its canonical form
        for variant in ("ab@example.com", "a\u200db@example.com", "\uff41b@example.com"):
            with pytest.raises(Conflict):
                await uow.users.add(make.user(email=variant))


async def test_an_update_may_not_take_another_users_email(uow_factory):
    ada, grace = make.user(email="ada@example.com"), make.user(email="grace@example.com")
    await put(uow_factory, "users", ada, grace)
    async with uow_factory() as uow:
        with pytest.raises(Conflict):
            await uow.users.update(replace(grace, email="ADA@example.com"))
        await uow.users.update(replace(grace, email="Grace.Hopper@example.com"))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.users.get_by_email("grace@example.com") is None
        assert (await uow.users.get_by_email("grace.hopper@example.com")).id == grace.id


async def test_a_soft_deleted_users_email_stays_taken(uow_factory):
    ada = make.user(email="ada@example.com")
    await put(uow_factory, "users", ada)
    await change(uow_factory, "users", replace(ada, deleted_at=at(1)))
    async with uow_factory() as uow:
        with pytest.raises(Conflict):
            await uow.users.add(make.user(email="ada@example.com"))


async def test_a_freed_email_can_be_taken_in_the_same_transaction(uow_factory):
    ada = make.user(email="ada@example.com")
    await put(uow_factory, "users", ada)
    newcomer = make.user(email="ada@example.com")
    async with uow_factory() as uow:
        await uow.users.update(replace(ada, email="ada.old@example.com"))
        await uow.users.add(newcomer)
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.users.get_by_email("ada@example.com")).id == newcomer.id


async def test_api_key_hashes_are_unique(uow_factory):
    key = make.api_key()
    await put(uow_factory, "api_keys", key)
    async with uow_factory() as uow:
        assert (await uow.api_keys.get_by_hash(key.key_hash)) == key
        assert await uow.api_keys.get_by_hash("0" * 64) is None
        with pytest.raises(Conflict):
            await uow.api_keys.add(make.api_key(key_hash=key.key_hash))


async def test_api_key_use_is_counted_atomically(uow_factory):
    key = make.api_key()
    await put(uow_factory, "api_keys", key)

    async def use(when):
        async with uow_factory() as uow:
            await uow.api_keys.record_use(key.id, when)
            await uow.commit()

    await use(at(5))
    await use(at(9))
    async with uow_factory() as uow:
        await uow.api_keys.record_use(key.id, at(99))  # not committed: not counted
        await uow.api_keys.record_use(uuid4(), at(99))  # unknown: nothing happens
    stored = await fetch(uow_factory, "api_keys", key.id)
    assert (stored.usage_count, stored.last_used_at) == (2, at(9))


async def test_timestamps_come_back_aware_and_equal(uow_factory):
    person = make.user(last_login_at=at(30))
    await put(uow_factory, "users", person)
    read = await fetch(uow_factory, "users", person.id)
    assert read.created_at == T0
    assert read.created_at.tzinfo is not None
    assert read.last_login_at == at(30)


async def test_audit_entries_are_appended_and_listed(uow_factory):
    owner = uuid4()
    entries = [
        make.audit(owner, action="auth.login", created_at=at(1)),
        make.audit(owner, action="auth.logout", created_at=at(2)),
        make.audit(None, action="auth.login_failed", created_at=at(3)),
    ]
    async with uow_factory() as uow:
        for entry in entries:
            await uow.audit_logs.append(entry)
        await uow.commit()
    async with uow_factory() as uow:
        everything = await uow.audit_logs.list(ListQuery(sort_by="created_at"))
        assert [e.id for e in everything.items] == [e.id for e in reversed(entries)]
        mine = await uow.audit_logs.list(ListQuery(filters={"user_id": owner}))
        assert {e.id for e in mine.items} == {entries[0].id, entries[1].id}
        logins = await uow.audit_logs.list(ListQuery(search="LOGIN"))
        assert {e.action for e in logins.items} == {"auth.login", "auth.login_failed"}
        with pytest.raises(Conflict):
            await uow.audit_logs.append(entries[0])
