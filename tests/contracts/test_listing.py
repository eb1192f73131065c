"""Listing contract: visibility, filters, tags, search, sort whitelist and order, paging."""

from __future__ import annotations

from uuid import uuid4

import pytest

from tests.contracts import factories as make
from tests.contracts.factories import at
from tests.contracts.helpers import put
from turbocat_core.domain.agent import AGENT_QUERY, AgentStatus, AgentType
from turbocat_core.domain.common import ListQuery, SortOrder
from turbocat_core.domain.execution import ExecutionStatus
from turbocat_core.domain.user import UserRole
from turbocat_core.errors import ValidationFailed


async def listed(factory, repository: str, **query) -> list:
    async with factory() as uow:
        page = await getattr(uow, repository).list(ListQuery(**query))
    return page.items


async def names(factory, repository: str = "agents", **query) -> list[str]:
    return [row.name for row in await listed(factory, repository, **query)]


async def test_visibility_by_owner_and_public_rows(uow_factory):
    me, other = uuid4(), uuid4()
    await put(
        uow_factory,
        "agents",
        make.agent(me, name="mine"),
        make.agent(other, name="theirs-public", is_public=True),
        make.agent(other, name="theirs-private"),
    )
    assert sorted(await names(uow_factory)) == ["mine", "theirs-private", "theirs-public"]
    assert await names(uow_factory, owner_id=me) == ["mine"]
    both = await names(uow_factory, owner_id=me, include_public=True)
    assert sorted(both) == ["mine", "theirs-public"]


async def test_equality_filters_on_enums_booleans_and_uuids(uow_factory):
    owner = uuid4()
    await put(
        uow_factory,
        "agents",
        make.agent(owner, name="a", type=AgentType.API, status=AgentStatus.ACTIVE),
        make.agent(owner, name="b", type=AgentType.LLM, status=AgentStatus.ACTIVE, is_public=True),
        make.agent(name="c", type=AgentType.API, status=AgentStatus.DRAFT),
    )
    assert sorted(await names(uow_factory, filters={"type": AgentType.API})) == ["a", "c"]
    assert sorted(await names(uow_factory, filters={"type": "API"})) == ["a", "c"]
    assert await names(uow_factory, filters={"type": "API", "status": "ACTIVE"}) == ["a"]
    assert await names(uow_factory, filters={"is_public": True}) == ["b"]
    assert sorted(await names(uow_factory, filters={"is_public": False})) == ["a", "c"]
    assert sorted(await names(uow_factory, filters={"user_id": owner})) == ["a", "b"]
    assert sorted(await names(uow_factory, filters={"user_id": str(owner)})) == ["a", "b"]
    assert await names(uow_factory, filters={"type": "CODE"}) == []


async def test_filters_on_other_listings(uow_factory):
    flow = uuid4()
    await put(
        uow_factory,
        "executions",
        make.execution(flow, status=ExecutionStatus.RUNNING),
        make.execution(flow, status=ExecutionStatus.COMPLETED),
        make.execution(status=ExecutionStatus.RUNNING),
    )
    rows = await listed(uow_factory, "executions", filters={"workflow_id": flow})
    assert len(rows) == 2
    rows = await listed(
        uow_factory, "executions", filters={"workflow_id": flow, "status": "RUNNING"}
    )
    assert [row.status for row in rows] == [ExecutionStatus.RUNNING]
    await put(uow_factory, "users", make.user(role=UserRole.ADMIN), make.user())
    admins = await listed(uow_factory, "users", filters={"role": UserRole.ADMIN})
    assert [user.role for user in admins] == [UserRole.ADMIN]


async def test_tags_must_all_be_present(uow_factory):
    await put(
        uow_factory,
        "agents",
        make.agent(name="ab", tags=("a", "b")),
        make.agent(name="a", tags=("a",)),
        make.agent(name="none", tags=()),
    )
    assert sorted(await names(uow_factory, tags=("a",))) == ["a", "ab"]
    assert await names(uow_factory, tags=("a", "b")) == ["ab"]
    assert await names(uow_factory, tags=("c",)) == []


async def test_search_is_a_case_insensitive_substring_of_name_or_description(uow_factory):
    await put(
        uow_factory,
        "agents",
        make.agent(name="Fetch Prices", description=None),
        make.agent(name="other", description="uses the PRICE feed"),
        make.agent(name="unrelated", description="nothing"),
    )
    assert sorted(await names(uow_factory, search="price")) == ["Fetch Prices", "other"]
    assert await names(uow_factory, search="FETCH") == ["Fetch Prices"]
    assert await names(uow_factory, search="zzz") == []
    users = await listed(uow_factory, "users", search="EXAMPLE.COM")
    assert users == []  # no users stored yet
    await put(uow_factory, "users", make.user(email="ada@example.com", full_name=None))
    assert len(await listed(uow_factory, "users", search="ADA@")) == 1


async def test_sort_by_a_field_with_ties_broken_by_id(uow_factory):
    agents = [make.agent(name=name) for name in ("b", "a", "b", "c", "a")]
    await put(uow_factory, "agents", *agents)
    by_id = sorted(agents, key=lambda agent: agent.id)
    ascending = await listed(uow_factory, "agents", sort_by="name", sort_order=SortOrder.ASC)
    expected = sorted(by_id, key=lambda agent: agent.name)
    assert [a.id for a in ascending] == [a.id for a in expected]
    descending = await listed(uow_factory, "agents", sort_by="name", sort_order=SortOrder.DESC)
    expected = sorted(by_id, key=lambda agent: agent.name, reverse=True)  # stable: ids ascending
    assert [a.id for a in descending] == [a.id for a in expected]


async def test_default_listing_is_newest_first(uow_factory):
    await put(
        uow_factory,
        "agents",
        *(make.agent(name=str(i), created_at=at(i)) for i in range(3)),
    )
    assert await names(uow_factory) == ["2", "1", "0"]


async def test_nulls_sort_last_ascending_and_first_descending(uow_factory):
    rows = [
        make.execution(started_at=at(2)),
        make.execution(started_at=None),
        make.execution(started_at=at(1)),
        make.execution(started_at=None),
    ]
    await put(uow_factory, "executions", *rows)
    nulls = sorted((r for r in rows if r.started_at is None), key=lambda r: r.id)
    asc = await listed(uow_factory, "executions", sort_by="started_at", sort_order=SortOrder.ASC)
    assert [r.id for r in asc] == [rows[2].id, rows[0].id, *(r.id for r in nulls)]
    desc = await listed(uow_factory, "executions", sort_by="started_at", sort_order=SortOrder.DESC)
    assert [r.id for r in desc] == [*(r.id for r in nulls), rows[0].id, rows[2].id]


async def test_pagination_counts_every_match(uow_factory):
    await put(uow_factory, "agents", *(make.agent(name=f"{i:02}") for i in range(25)))
    async with uow_factory() as uow:
        first = await uow.agents.list(ListQuery(page_size=10, sort_by="name", sort_order="asc"))
        last = await uow.agents.list(
            ListQuery(page=3, page_size=10, sort_by="name", sort_order="asc")
        )
        beyond = await uow.agents.list(ListQuery(page=4, page_size=10))
    assert [a.name for a in first.items] == [f"{i:02}" for i in range(10)]
    assert (first.total, first.total_pages, first.has_next, first.has_prev) == (25, 3, True, False)
    assert [a.name for a in last.items] == [f"{i:02}" for i in range(20, 25)]
    assert (last.has_next, last.has_prev) == (False, True)
    assert (beyond.items, beyond.total) == ([], 25)


async def test_total_counts_matches_after_filters(uow_factory):
    await put(
        uow_factory,
        "agents",
        *(make.agent(type=AgentType.API) for _ in range(7)),
        *(make.agent(type=AgentType.LLM) for _ in range(3)),
    )
    async with uow_factory() as uow:
        page = await uow.agents.list(ListQuery(page_size=2, filters={"type": "LLM"}))
    assert (len(page.items), page.total) == (2, 3)


@pytest.mark.parametrize(
    ("repository", "query"),
    [
        ("agents", ListQuery(sort_by="config")),
        ("agents", ListQuery(sort_by="password_hash")),
        ("agents", ListQuery(filters={"name": "x"})),
        ("users", ListQuery(sort_by="password_hash")),
        ("users", ListQuery(tags=("a",))),
        ("executions", ListQuery(search="x")),
        ("api_keys", ListQuery(filters={"key_hash": "x"})),
        ("agents", ListQuery(page=0)),
        ("agents", ListQuery(page_size=0)),
        ("agents", ListQuery(page_size=101)),
    ],
)
async def test_a_query_outside_the_listings_spec_is_refused(uow_factory, repository, query):
    async with uow_factory() as uow:
        with pytest.raises(ValidationFailed):
            await getattr(uow, repository).list(query)


async def test_every_sortable_field_of_agents_sorts(uow_factory):
    await put(uow_factory, "agents", make.agent(), make.agent(version=3))
    for field in sorted(AGENT_QUERY.sortable):
        for order in ("asc", "desc"):
            query = ListQuery.build(AGENT_QUERY, sort_by=field, sort_order=order)
            assert len(await listed(uow_factory, "agents", **_fields(query))) == 2


def _fields(query: ListQuery) -> dict:
    return {
        "page": query.page,
        "page_size": query.page_size,
        "sort_by": query.sort_by,
        "sort_order": query.sort_order,
    }
