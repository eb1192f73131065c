"""`Seed` on every store: what it creates, that a second run changes nothing, passwords."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.databases import STORE_KINDS, empty_store
from turbocat_adapters.security import BcryptHasher
from turbocat_adapters.system import SystemClock, SystemRandom, UuidV7Generator
from turbocat_core.agents.contract import AgentExecutors
from turbocat_core.agents.data_agent import DataAgent
from turbocat_core.domain.agent import AGENT_QUERY, AgentType
from turbocat_core.domain.common import ListQuery
from turbocat_core.domain.template import TEMPLATE_QUERY
from turbocat_core.domain.user import LOCAL_OWNER_ID, USER_QUERY, password_problems
from turbocat_core.domain.workflow import WORKFLOW_QUERY, WorkflowStatus
from turbocat_core.engine.validation import validate_steps
from turbocat_core.errors import ValidationFailed
from turbocat_core.usecases.executions import agent_checker
from turbocat_core.usecases.seed import Seed
from turbocat_core.usecases.workflow_files import WorkflowFiles


def seeder(store) -> tuple[Seed, BcryptHasher]:
    clock, ids = SystemClock(), UuidV7Generator()
    hasher = BcryptHasher(rounds=4)
    files = WorkflowFiles(
        clock=clock, ids=ids, executors=AgentExecutors({AgentType.DATA: DataAgent()})
    )
    seed = Seed(
        uow=store.unit_of_work,
        clock=clock,
        ids=ids,
        random=SystemRandom(),
        hasher=hasher,
        files=files,
    )
    return seed, hasher


async def everything(store):
    async with store.unit_of_work() as uow:
        listed = (await uow.users.list(ListQuery.build(USER_QUERY, page_size=100))).items
        users = [user for user in listed if user.id != LOCAL_OWNER_ID]  # in every store
        agents = (await uow.agents.list(ListQuery.build(AGENT_QUERY, page_size=100))).items
        workflows = (await uow.workflows.list(ListQuery.build(WORKFLOW_QUERY, page_size=100))).items
        templates = (await uow.templates.list(ListQuery.build(TEMPLATE_QUERY, page_size=100))).items
        steps = {wf.id: await uow.steps.for_workflow(wf.id) for wf in workflows}
        checks = {wf.id: await agent_checker(uow, wf.user_id, steps[wf.id]) for wf in workflows}
    return users, agents, workflows, templates, steps, checks


@pytest.fixture(params=STORE_KINDS)
async def store(request, tmp_path: Path):
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    async with empty_store(request.param, tmp_path, dsn) as opened:
        yield opened


async def test_seed_creates_the_starter_set_once(store):
    seed, hasher = seeder(store)
    first = await seed(admin_password="Admin-Passw0rd!")
    users, agents, workflows, templates, steps, checks = await everything(store)
    assert sorted(u.email for u in users) == ["admin@turbocat.dev", "demo@turbocat.dev"]
    assert {u.email: u.role.value for u in users}["admin@turbocat.dev"] == "ADMIN"
    assert sorted(a.name for a in agents) == [
        "API Caller",
        "Data Transformer",
        "Email Sender",
        "LLM Summarizer",
        "Web Scraper",
    ]
    assert len(workflows) == 2 and all(w.status is WorkflowStatus.ACTIVE for w in workflows)
    assert sum(len(s) for s in steps.values()) == 6
    for workflow in workflows:
        validate_steps(steps[workflow.id], checks[workflow.id])  # agents exist and are usable
    assert sorted(t.name for t in templates) == [
        "API Integration",
        "Data Pipeline",
        "Data Transformer",
        "Email Automation",
        "LLM Assistant",
        "Web Scraper",
    ]
    assert all(t.is_official and t.is_public and t.user_id is None for t in templates)
    assert len(first.created) == 2 + 5 + 2 + 6

    admin = next(u for u in users if u.role.value == "ADMIN")
    demo = next(u for u in users if u.role.value == "USER")
    assert await hasher.verify("Admin-Passw0rd!", admin.password_hash)
    assert list(first.passwords) == ["demo@turbocat.dev"]  # only the generated one is shown
    assert password_problems(first.passwords["demo@turbocat.dev"]) == []
    assert await hasher.verify(first.passwords["demo@turbocat.dev"], demo.password_hash)

    again = await seed()
    assert again.created == [] and again.passwords == {}
    assert len(again.existing) == len(first.created)
    after = await everything(store)
    assert [len(group) for group in after[:4]] == [2, 5, 2, 6]
    admin_again = next(u for u in after[0] if u.role.value == "ADMIN")
    assert admin_again.password_hash == admin.password_hash  # an existing password is kept


async def test_a_weak_seed_password_is_refused_before_anything_is_written(store):
    seed, _ = seeder(store)
    with pytest.raises(ValidationFailed):
        await seed(admin_password="weak")
    users, agents, *_ = await everything(store)
    assert users == [] and agents == []
