"""Agent and template use cases on the in-memory store: version trees, forks, visibility,
audit entries, and template instantiation (the HTTP tests cover the rest on both stores)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any
from uuid import uuid4

import pytest

from tests.core.builders import T0, step
from turbocat_adapters.memory import ManualClock, MemoryStore
from turbocat_adapters.system import UuidV7Generator
from turbocat_core.agents.configs import MASK
from turbocat_core.agents.contract import AgentExecutors
from turbocat_core.agents.data_agent import DataAgent
from turbocat_core.domain.access import Actor
from turbocat_core.domain.agent import AgentStatus, AgentType
from turbocat_core.domain.audit import AUDIT_QUERY, AuditLog
from turbocat_core.domain.common import ListQuery, TemplateId, UserId, WorkflowId
from turbocat_core.domain.template import Template, TemplateType
from turbocat_core.domain.user import User, UserRole
from turbocat_core.domain.workflow import Workflow
from turbocat_core.errors import (
    Conflict,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from turbocat_core.usecases import agents as uc
from turbocat_core.usecases import templates as tc
from turbocat_core.usecases.workflow_files import WorkflowFiles

API = {"url": "https://example.com", "auth": {"type": "bearer", "token": "s3cret"}}


@dataclass
class World:
    clock: ManualClock = field(default_factory=lambda: ManualClock(T0))
    store: MemoryStore = field(default_factory=MemoryStore)
    ids: UuidV7Generator = field(default_factory=UuidV7Generator)
    executors: AgentExecutors = field(
        default_factory=lambda: AgentExecutors({AgentType.DATA: DataAgent()})
    )

    def ports(self, *names: str) -> dict[str, Any]:
        every = {
            "uow": self.store.unit_of_work,
            "clock": self.clock,
            "ids": self.ids,
            "executors": self.executors,
            "files": WorkflowFiles(clock=self.clock, ids=self.ids, executors=self.executors),
        }
        return {name: every[name] for name in ("uow", *names)}

    async def person(self, role: UserRole = UserRole.USER, **extra: Any) -> Actor:
        user = User(
            id=UserId(uuid4()),
            created_at=T0,
            updated_at=T0,
            email=f"{uuid4().hex}@example.com",
            password_hash="x",
            role=role,
        )
        async with self.store.unit_of_work() as uow:
            await uow.users.add(user)
            await uow.commit()
        return Actor(user_id=user.id, role=role, **extra)

    async def create(self, actor: Actor, **fields: Any):
        new = uc.NewAgent(**{"name": "caller", "type": AgentType.API, "config": API, **fields})
        return await uc.CreateAgent(**self.ports("clock", "ids", "executors"))(actor, new)

    async def duplicate(self, actor: Actor, agent_id: Any, name: str | None = None):
        return await uc.DuplicateAgent(**self.ports("clock", "ids"))(actor, agent_id, name=name)

    async def versions(self, actor: Actor, agent_id: Any):
        return await uc.AgentVersions(**self.ports())(actor, agent_id)

    async def audit(self) -> list[AuditLog]:
        async with self.store.unit_of_work() as uow:
            query = ListQuery.build(AUDIT_QUERY, page_size=100, sort_order="asc")
            return (await uow.audit_logs.list(query)).items


@pytest.fixture
def w() -> World:
    return World()


async def test_duplicates_of_any_version_join_the_root_tree(w: World):
    ada = await w.person()
    root = await w.create(ada)
    second = await w.duplicate(ada, root.id)
    third = await w.duplicate(ada, second.id, name="  third ")
    assert (second.parent_id, second.version) == (root.id, 2)
    assert (third.parent_id, third.version, third.name) == (root.id, 3, "third")
    assert [a.version for a in await w.versions(ada, second.id)] == [3, 2, 1]
    assert third.status is AgentStatus.DRAFT and not third.is_public and third.config == API


async def test_a_copy_is_private_draft_with_zero_counters(w: World):
    ada = await w.person()
    source = await w.create(ada, status=AgentStatus.ACTIVE, is_public=True, tags=["x"])
    async with w.store.unit_of_work() as uow:
        await uow.agents.record_runs(source.id, succeeded=2, failed=1, total_ms=30, now=T0)
        await uow.commit()
    copy = await w.duplicate(ada, source.id)
    assert (copy.status, copy.is_public, copy.total_executions) == (AgentStatus.DRAFT, False, 0)
    assert (copy.successful_executions, copy.failed_executions) == (0, 0)
    assert copy.avg_execution_time_ms == 0 and copy.tags == ("x",)


async def test_forks_of_public_agents_start_their_own_tree(w: World):
    ada, bob = await w.person(), await w.person()
    public = await w.create(ada, is_public=True)
    fork = await w.duplicate(bob, public.id)
    assert (fork.user_id, fork.parent_id, fork.version) == (bob.user_id, None, 1)
    mine = await w.duplicate(bob, fork.id)
    assert (mine.parent_id, mine.version) == (fork.id, 2)
    entry = (await w.audit())[-2]
    assert entry.action == "agent.duplicated"
    assert entry.metadata == {"sourceId": str(public.id), "fork": True}


async def test_versions_hide_what_the_viewer_may_not_see(w: World):
    ada, bob = await w.person(), await w.person()
    root = await w.create(ada, is_public=True)
    private = await w.duplicate(ada, root.id)
    assert [a.id for a in await w.versions(bob, root.id)] == [root.id]
    with pytest.raises(NotFound):
        await w.versions(bob, private.id)
    admin = await w.person(UserRole.ADMIN)
    assert [a.id for a in await w.versions(admin, root.id)] == [private.id, root.id]


async def test_deleted_versions_leave_the_tree(w: World):
    ada = await w.person()
    root = await w.create(ada)
    second = await w.duplicate(ada, root.id)
    await uc.DeleteAgent(**w.ports("clock", "ids"))(ada, root.id)
    assert [a.id for a in await w.versions(ada, second.id)] == [second.id]
    third = await w.duplicate(ada, second.id)
    assert (third.parent_id, third.version) == (root.id, 3)
    assert w.store.peek("agents", root.id).deleted_at == T0


async def test_update_checks_what_changes_and_audits_it_with_secrets_masked(w: World):
    ada = await w.person()
    agent = await w.create(ada)
    update = uc.UpdateAgent(**w.ports("clock", "ids", "executors"))
    with pytest.raises(ValidationFailed) as caught:
        await update(ada, agent.id, {"type": AgentType.CODE, "is_public": True})
    assert [(d.field, d.message) for d in caught.value.details] == [("type", "cannot be changed")]
    with pytest.raises(ValidationFailed) as caught:
        await update(ada, agent.id, {"config": {"url": "nope"}, "max_memory_mb": 8, "name": " "})
    assert {d.field for d in caught.value.details} == {"config.url", "max_memory_mb", "name"}
    w.clock.advance(5)
    changed = await update(
        ada, agent.id, {"config": {**API, "method": "POST"}, "tags": ["a", " a "], "name": "x "}
    )
    assert (changed.tags, changed.name, changed.updated_at > agent.updated_at) == (
        ("a",),
        "x",
        True,
    )
    entry = (await w.audit())[-1]
    assert entry.action == "agent.updated" and set(entry.changes) == {"config", "tags", "name"}
    assert entry.changes["config"]["to"]["auth"]["token"] == MASK
    assert "s3cret" not in repr(await w.audit())
    assert await update(ada, agent.id, {"name": "x"}) == changed  # no change, no write
    assert len(await w.audit()) == 2


async def test_owners_write_others_read_public_admins_do_both(w: World):
    ada, bob, admin = await w.person(), await w.person(), await w.person(UserRole.ADMIN)
    public = await w.create(ada, is_public=True)
    private = await w.create(ada)
    update = uc.UpdateAgent(**w.ports("clock", "ids", "executors"))
    with pytest.raises(PermissionDenied):
        await update(bob, public.id, {"name": "mine"})
    with pytest.raises(NotFound):
        await update(bob, private.id, {"name": "mine"})
    assert (await update(admin, private.id, {"name": "checked"})).name == "checked"
    listed = await uc.ListAgents(**w.ports())(bob, ListQuery())
    assert listed.total == 0
    everyone = await uc.ListAgents(**w.ports())(admin, ListQuery())
    assert everyone.total == 2


async def uses(w: World, owner: Actor, agent_id: Any) -> Workflow:
    """A workflow of ``owner`` with one AGENT step calling ``agent_id``."""
    workflow = Workflow(
        id=WorkflowId(uuid4()), created_at=T0, updated_at=T0, user_id=owner.user_id, name="w"
    )
    async with w.store.unit_of_work() as uow:
        await uow.workflows.add(workflow)
        await uow.steps.add(replace(step("a", agent_id=agent_id), workflow_id=workflow.id))
        await uow.commit()
    return workflow


async def test_an_agent_another_users_workflow_uses_is_pinned(w: World):
    ada, bob, admin = await w.person(), await w.person(), await w.person(UserRole.ADMIN)
    agent = await w.create(ada, is_public=True, status=AgentStatus.ACTIVE)
    update = uc.UpdateAgent(**w.ports("clock", "ids", "executors"))
    delete = uc.DeleteAgent(**w.ports("clock", "ids"))
    await uses(w, ada, agent.id)  # the owner's own use pins nothing
    agent = await update(ada, agent.id, {"config": {**API, "url": "https://example.org"}})
    theirs = await uses(w, bob, agent.id)
    for who, change in (
        (ada, {"config": API}),
        (ada, {"max_execution_time": 5}),
        (ada, {"max_memory_mb": 64}),
        (ada, {"max_concurrent_executions": 2}),
        (admin, {"config": API}),  # pinned for ADMINs too: they duplicate as well
        (ada, {"is_public": False}),
        (ada, {"status": AgentStatus.INACTIVE}),
        (ada, {"status": AgentStatus.ARCHIVED}),
    ):
        with pytest.raises(Conflict, match="used by another user's workflow"):
            await update(who, agent.id, change)
    with pytest.raises(Conflict, match="cannot be deleted"):
        await delete(ada, agent.id)
    described = {"name": "n", "description": "d", "tags": ["t"], "capabilities": ["c"]}
    agent = await update(ada, agent.id, {**described, "parameters": {"p": 1}})
    agent = await update(ada, agent.id, {"status": AgentStatus.DRAFT})  # still runnable
    assert agent.config == {**API, "url": "https://example.org"}
    # An ADMIN may take it down; once no live workflow of another user uses it, its owner may.
    assert not (await update(admin, agent.id, {"is_public": False})).is_public
    async with w.store.unit_of_work() as uow:
        await uow.workflows.update(replace(theirs, deleted_at=T0))
        await uow.commit()
    await update(ada, agent.id, {"config": API})
    await delete(ada, agent.id)


# -- templates ------------------------------------------------------------------------------


async def add_template(w: World, owner: Actor | None, kind: TemplateType, data: Any, **extra: Any):
    template = Template(
        id=TemplateId(uuid4()),
        created_at=T0,
        updated_at=T0,
        user_id=owner.user_id if owner else None,
        name="t",
        type=kind,
        category="c",
        template_data=data,
        **extra,
    )
    async with w.store.unit_of_work() as uow:
        await uow.templates.add(template)
        await uow.commit()
    return template


async def test_an_agent_template_merges_customizations_then_checks_them(w: World):
    ada = await w.person()
    data = {"type": "API", "name": "Caller", "config": {"url": "https://a.io", "method": "GET"}}
    template = await add_template(w, None, TemplateType.AGENT, data, is_public=True, tags=("t",))
    instantiate = tc.InstantiateTemplate(**w.ports("clock", "ids", "executors", "files"))
    made = await instantiate(ada, template.id, customizations={"method": "POST"})
    agent = made.resource
    assert made.resource_type is TemplateType.AGENT
    assert (agent.name, agent.status, agent.tags) == ("Caller", AgentStatus.DRAFT, ("t",))
    assert agent.config == {"url": "https://a.io", "method": "POST"}
    with pytest.raises(ValidationFailed) as caught:
        await instantiate(ada, template.id, customizations={"url": "x", "verb": "GET"})
    assert {d.field for d in caught.value.details} == {"config.url", "config.verb"}
    async with w.store.unit_of_work() as uow:
        assert (await uow.templates.get(template.id)).usage_count == 1  # type: ignore[union-attr]


async def test_template_kinds_scopes_and_visibility(w: World):
    ada, bob = await w.person(), await w.person()
    instantiate = tc.InstantiateTemplate(**w.ports("clock", "ids", "executors", "files"))
    step = await add_template(w, ada, TemplateType.STEP, {}, is_public=True)
    with pytest.raises(InvalidState, match="STEP templates"):
        await instantiate(ada, step.id)
    private = await add_template(w, ada, TemplateType.AGENT, {"type": "DATA", "config": {}})
    with pytest.raises(NotFound):
        await instantiate(bob, private.id)
    with pytest.raises(NotFound):
        await tc.GetTemplate(**w.ports())(None, private.id)
    keyed = replace(bob, scopes=frozenset({"templates:write"}))
    public = await add_template(
        w,
        None,
        TemplateType.AGENT,
        {"type": "DATA", "config": {"operation": "unique"}},
        is_public=True,
    )
    with pytest.raises(PermissionDenied, match="agents:write"):
        await instantiate(keyed, public.id)
    categories = tc.TemplateCategories(**w.ports())
    assert await categories(None) == [("c", 2)]
    assert await categories(ada) == [("c", 3)]
