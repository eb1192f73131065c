"""FUNCTION agents are stored like every other agent type, on every store."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

from tests.contracts import factories as make
from tests.contracts.factories import at
from tests.contracts.helpers import change, fetch, put
from turbocat_core.domain.agent import AgentType
from turbocat_core.domain.common import ListQuery


async def test_a_function_agent_is_stored_read_listed_and_updated(uow_factory):
    owner = uuid4()
    total = make.agent(owner, name="total", type=AgentType.FUNCTION, config={"function": "total"})
    other = make.agent(owner, name="fetch", type=AgentType.API)
    await put(uow_factory, "agents", total, other)

    assert await fetch(uow_factory, "agents", total.id) == total
    async with uow_factory() as uow:
        page = await uow.agents.list(ListQuery(owner_id=owner, filters={"type": "FUNCTION"}))
    assert [agent.id for agent in page.items] == [total.id]
    assert page.items[0].type is AgentType.FUNCTION
    assert page.items[0].config == {"function": "total"}

    renamed = replace(total, updated_at=at(60), config={"function": "average"}, version=2)
    await change(uow_factory, "agents", renamed)
    assert await fetch(uow_factory, "agents", total.id) == renamed

    # And an API agent may become a FUNCTION agent (the column takes the new value).
    turned = replace(other, updated_at=at(61), type=AgentType.FUNCTION, config={"function": "f"})
    await change(uow_factory, "agents", turned)
    assert (await fetch(uow_factory, "agents", other.id)).type is AgentType.FUNCTION


async def test_a_step_may_run_a_function_agent(uow_factory):
    owner = uuid4()
    total = make.agent(owner, name="total", type=AgentType.FUNCTION, config={"function": "total"})
    flow = make.workflow(owner)
    step = make.step(flow.id, agent_id=total.id)
    await put(uow_factory, "agents", total)
    await put(uow_factory, "workflows", flow)
    await put(uow_factory, "steps", step)
    async with uow_factory() as uow:
        steps = await uow.steps.for_workflow(flow.id)
    assert [s.agent_id for s in steps] == [total.id]
