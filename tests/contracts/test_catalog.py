"""Contract of version trees and templates: versions, categories, usage counts."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

from tests.contracts import factories as make
from tests.contracts.factories import at
from tests.contracts.helpers import fetch, put, race


async def test_agent_versions_are_the_live_tree_newest_first(uow_factory):
    root = make.agent(version=1)
    two = make.agent(root.user_id, parent_id=root.id, version=2)
    three = make.agent(root.user_id, parent_id=root.id, version=3)
    stranger = make.agent(version=4)
    await put(uow_factory, "agents", root, two, three, stranger)
    async with uow_factory() as uow:
        assert [a.version for a in await uow.agents.versions(root.id)] == [3, 2, 1]
        await uow.agents.update(replace(root, deleted_at=at(1)))
        assert [a.version for a in await uow.agents.versions(root.id)] == [3, 2]
        assert await uow.agents.versions(uuid4()) == []


async def test_workflow_versions_include_pending_children(uow_factory):
    root = make.workflow()
    await put(uow_factory, "workflows", root)
    child = make.workflow(root.user_id, parent_id=root.id, version=2)
    async with uow_factory() as uow:
        await uow.workflows.add(child)
        assert [w.id for w in await uow.workflows.versions(root.id)] == [child.id, root.id]
    async with uow_factory() as uow:
        assert [w.id for w in await uow.workflows.versions(root.id)] == [root.id]


async def test_categories_count_public_live_templates_by_name(uow_factory):
    await put(
        uow_factory,
        "templates",
        make.template(category="messaging"),
        make.template(category="data"),
        make.template(category="messaging", is_official=True),
        make.template(category="private", is_public=False),
        make.template(category="data", deleted_at=at(1)),
    )
    async with uow_factory() as uow:
        assert await uow.templates.categories() == [("data", 1), ("messaging", 2)]


async def test_usage_counts_from_concurrent_transactions_add_up(uow_factory):
    template = make.template(usage_count=3)
    await put(uow_factory, "templates", template)

    async def use(uow):
        await uow.templates.increment_usage(template.id)

    assert await race(uow_factory, use, use) == [None, None]
    async with uow_factory() as uow:
        await uow.templates.increment_usage(template.id)
        assert (await uow.templates.get(template.id)).usage_count == 6
    assert (await fetch(uow_factory, "templates", template.id)).usage_count == 5
