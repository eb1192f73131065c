"""A state machine drives the in-memory agents repository against a plain-dict model."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import replace
from typing import Any
from uuid import UUID, uuid4

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    precondition,
    rule,
)

from tests.contracts import factories as make
from tests.contracts.factories import at
from tests.contracts.parents import ensure_parents
from turbocat_adapters.memory import MemoryStore
from turbocat_core.domain.agent import AGENT_QUERY, Agent, AgentStatus, AgentType
from turbocat_core.domain.common import ListQuery, SortOrder
from turbocat_core.errors import NotFound

OWNERS = [UUID(int=1), UUID(int=2), UUID(int=3)]
NAMES = ["alpha", "Beta", "gamma ray", "Alpha two", "delta"]
TAGS = ["a", "b", "c"]
FILTERS = {
    "type": st.sampled_from(list(AgentType)),
    "status": st.sampled_from(list(AgentStatus)),
    "is_public": st.booleans(),
    "user_id": st.sampled_from(OWNERS),
}

fields = st.fixed_dictionaries(
    {
        "name": st.sampled_from(NAMES),
        "description": st.none() | st.sampled_from(["fetches data", "ALPHA helper", ""]),
        "type": st.sampled_from(list(AgentType)),
        "status": st.sampled_from(list(AgentStatus)),
        "is_public": st.booleans(),
        "tags": st.lists(st.sampled_from(TAGS), unique=True).map(tuple),
        "version": st.integers(1, 3),
        "total_executions": st.integers(0, 2),
        "created_at": st.integers(0, 3).map(at),
        "updated_at": st.integers(0, 3).map(at),
        "config": st.dictionaries(st.sampled_from(["k", "l"]), st.integers(0, 3), max_size=2),
    }
)


def mostly_none(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``None`` three times out of four, so that most listings are not empty."""
    return st.sampled_from([False, False, False, True]).flatmap(
        lambda draw: strategy if draw else st.none()
    )


queries = st.fixed_dictionaries(
    {
        "owner_id": mostly_none(st.sampled_from(OWNERS)),
        "include_public": st.booleans(),
        "filters": mostly_none(st.sampled_from(sorted(FILTERS)).map(lambda k: {k: None})).map(
            lambda f: f or {}
        ),
        "tags": mostly_none(st.sampled_from(TAGS).map(lambda tag: (tag,))).map(lambda t: t or ()),
        "search": mostly_none(st.sampled_from(["alpha", "A", "ray", "help", "zzz"])),
        "sort_by": st.sampled_from(sorted(AGENT_QUERY.sortable)),
        "sort_order": st.sampled_from(list(SortOrder)),
        "page": st.integers(1, 3),
        "page_size": st.integers(1, 6),
    }
)


def expected_page(model: dict[UUID, Agent], query: ListQuery) -> tuple[list[UUID], int]:
    """The listing computed independently, the plain way."""
    rows = [agent for agent in model.values() if agent.deleted_at is None]
    if query.owner_id is not None:
        rows = [
            a for a in rows if a.user_id == query.owner_id or (query.include_public and a.is_public)
        ]
    rows = [a for a in rows if all(getattr(a, k) == v for k, v in query.filters.items())]
    rows = [a for a in rows if set(query.tags) <= set(a.tags)]
    if query.search:
        needle = query.search.lower()
        rows = [
            a
            for a in rows
            if needle in a.name.lower() or (a.description and needle in a.description.lower())
        ]

    def compare(left: Agent, right: Agent) -> int:
        a, b = getattr(left, query.sort_by), getattr(right, query.sort_by)
        if a != b:
            smaller = -1 if a < b else 1
            return -smaller if query.sort_order == SortOrder.DESC else smaller
        return -1 if left.id < right.id else (1 if left.id > right.id else 0)

    rows.sort(key=functools.cmp_to_key(compare))
    start = (query.page - 1) * query.page_size
    return [a.id for a in rows[start : start + query.page_size]], len(rows)


class AgentsMachine(RuleBasedStateMachine):
    live = Bundle("live")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.store = MemoryStore()
        self.model: dict[UUID, Agent] = {}

    def teardown(self) -> None:
        self.loop.close()

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    async def _write(self, *changes: tuple[str, Agent], commit: bool = True) -> None:
        async with self.store.unit_of_work() as uow:
            for action, agent in changes:
                await ensure_parents(uow, agent)  # the owner's row (foreign keys)
                await getattr(uow.agents, action)(agent)
            if commit:
                await uow.commit()

    @rule(target=live, owner=st.sampled_from(OWNERS), values=fields)
    def add(self, owner: UUID, values: dict[str, Any]) -> UUID:
        agent = make.agent(owner, **values)
        self.run(self._write(("add", agent)))
        self.model[agent.id] = agent
        return agent.id

    @rule(
        target=live,
        batch=st.lists(st.tuples(st.sampled_from(OWNERS), fields), min_size=2, max_size=5),
    )
    def add_several(self, batch: list[tuple[UUID, dict[str, Any]]]) -> Any:
        agents = [make.agent(owner, **values) for owner, values in batch]
        self.run(self._write(*(("add", agent) for agent in agents)))
        self.model.update((agent.id, agent) for agent in agents)
        return multiple(*(agent.id for agent in agents))

    @rule(agent_id=live, values=fields)
    def update(self, agent_id: UUID, values: dict[str, Any]) -> None:
        edited = replace(self.model[agent_id], **values)
        self.run(self._write(("update", edited)))
        self.model[agent_id] = edited

    @rule(agent_id=consumes(live), when=st.integers(4, 9))
    def soft_delete(self, agent_id: UUID, when: int) -> None:
        deleted = replace(self.model[agent_id], deleted_at=at(when))
        self.run(self._write(("update", deleted)))
        self.model[agent_id] = deleted
        try:
            self.run(self._write(("update", replace(deleted, deleted_at=None))))
        except NotFound:
            pass
        else:
            raise AssertionError("updated a soft-deleted agent")

    @rule(agent_id=live, owner=st.sampled_from(OWNERS), values=fields)
    def rolled_back(self, agent_id: UUID, owner: UUID, values: dict[str, Any]) -> None:
        """Writes left without commit change nothing."""
        changes = [
            ("add", make.agent(owner, **values)),
            ("update", replace(self.model[agent_id], **values)),
        ]
        self.run(self._write(*changes, commit=False))

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data(), values=fields)
    def concurrent_readers_see_committed_rows(self, data: st.DataObject, values: dict) -> None:
        agent_id = data.draw(st.sampled_from(sorted(self.model)))

        async def check() -> None:
            async with self.store.unit_of_work() as writer, self.store.unit_of_work() as reader:
                current = await writer.agents.get(agent_id)
                if current is not None:
                    await writer.agents.update(replace(current, **values))
                assert await reader.agents.get(agent_id) == self._live(agent_id)

        self.run(check())

    @rule(values=queries, data=st.data())
    def list_matches_the_model(self, values: dict[str, Any], data: st.DataObject) -> None:
        filters = {name: data.draw(FILTERS[name], label=name) for name in values["filters"]}
        query = ListQuery(**{**values, "filters": filters})

        async def listing() -> Any:
            async with self.store.unit_of_work() as uow:
                return await uow.agents.list(query)

        page = self.run(listing())
        ids, total = expected_page(self.model, query)
        assert [agent.id for agent in page.items] == ids
        assert page.total == total
        for agent in page.items:
            assert agent == self.model[agent.id]

    def _live(self, agent_id: UUID) -> Agent | None:
        agent = self.model.get(agent_id)
        return agent if agent is not None and agent.deleted_at is None else None

    @invariant()
    def every_agent_reads_as_modelled(self) -> None:
        async def read_all() -> dict[UUID, Agent | None]:
            async with self.store.unit_of_work() as uow:
                return {key: await uow.agents.get(key) for key in [*self.model, uuid4()]}

        for agent_id, found in self.run(read_all()).items():
            assert found == self._live(agent_id)


AgentsMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestAgentsRepository = AgentsMachine.TestCase
