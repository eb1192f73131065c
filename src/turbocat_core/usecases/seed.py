"""`turbocat seed`: an admin, a demo user, example agents and workflows, official templates.

Idempotent: everything is looked up by its natural key (emails, names) first, so a second
run creates nothing and changes nothing (passwords of existing users are left alone).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from turbocat_core.domain.access import Actor
from turbocat_core.domain.agent import AGENT_QUERY, Agent, AgentStatus, AgentType
from turbocat_core.domain.common import AgentId, ListQuery, TemplateId, UserId
from turbocat_core.domain.template import TEMPLATE_QUERY, Template, TemplateType
from turbocat_core.domain.user import User, UserRole, check_password_policy
from turbocat_core.domain.workflow import WORKFLOW_QUERY, WorkflowStatus
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.randomness import IdGenerator, RandomSource
from turbocat_core.ports.security import PasswordHasher
from turbocat_core.ports.storage import UnitOfWork, UnitOfWorkFactory
from turbocat_core.usecases import seed_data
from turbocat_core.usecases.workflow_files import WorkflowFiles


@dataclass(slots=True)
class SeedReport:
    """What a run created; ``passwords`` holds the ones it generated (shown once)."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)


def generated_password(random: RandomSource) -> str:
    """A random password that meets the policy (24 random characters, then Aa1!)."""
    return random.token(18) + "Aa1!"


@dataclass(frozen=True, slots=True, kw_only=True)
class Seed:
    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    random: RandomSource
    hasher: PasswordHasher
    files: WorkflowFiles

    async def __call__(
        self, *, admin_password: str | None = None, demo_password: str | None = None
    ) -> SeedReport:
        """Raises ``ValidationFailed`` when a given password breaks the policy."""
        for password in (admin_password, demo_password):
            if password is not None:
                check_password_policy(password)
        report = SeedReport()
        async with self.uow() as uow:
            await self._user(
                uow, report, seed_data.ADMIN_EMAIL, "Turbocat Admin", UserRole.ADMIN, admin_password
            )
            demo = await self._user(
                uow, report, seed_data.DEMO_EMAIL, "Demo User", UserRole.USER, demo_password
            )
            agents = await self._agents(uow, report, demo)
            await self._workflows(uow, report, demo, agents)
            await self._templates(uow, report)
            await uow.commit()
        return report

    async def _user(
        self,
        uow: UnitOfWork,
        report: SeedReport,
        email: str,
        name: str,
        role: UserRole,
        password: str | None,
    ) -> User:
        found = await uow.users.get_by_email(email)
        if found is not None:
            report.existing.append(f"user {email}")
            return found
        if password is None:
            password = report.passwords[email] = generated_password(self.random)
        now = self.clock.now()
        user = User(
            id=UserId(self.ids.new_id()),
            created_at=now,
            updated_at=now,
            email=email,
            password_hash=await self.hasher.hash(password),
            full_name=name,
            role=role,
            email_verified=True,
        )
        await uow.users.add(user)
        report.created.append(f"user {email} ({role})")
        return user

    async def _owned_by_name(self, repository: Any, spec: Any, owner: User, name: str) -> Any:
        query = ListQuery.build(spec, page_size=100, search=name, owner_id=owner.id)
        return next((row for row in (await repository.list(query)).items if row.name == name), None)

    async def _agents(self, uow: UnitOfWork, report: SeedReport, owner: User) -> dict[str, Agent]:
        agents = {}
        for name, (agent_type, description, config, tags) in seed_data.AGENTS.items():
            found = await self._owned_by_name(uow.agents, AGENT_QUERY, owner, name)
            if found is not None:
                report.existing.append(f"agent {name!r}")
                agents[name] = found
                continue
            now = self.clock.now()
            agent = Agent(
                id=AgentId(self.ids.new_id()),
                created_at=now,
                updated_at=now,
                user_id=owner.id,
                name=name,
                description=description,
                type=AgentType(agent_type),
                status=AgentStatus.ACTIVE,
                config=config,
                tags=tuple(tags),
            )
            await uow.agents.add(agent)
            report.created.append(f"agent {name!r}")
            agents[name] = agent
        return agents

    async def _workflows(
        self, uow: UnitOfWork, report: SeedReport, owner: User, agents: dict[str, Agent]
    ) -> None:
        actor = Actor(user_id=owner.id, role=owner.role)
        for document in seed_data.WORKFLOWS:
            name = document["name"]
            if await self._owned_by_name(uow.workflows, WORKFLOW_QUERY, owner, name) is not None:
                report.existing.append(f"workflow {name!r}")
                continue
            # The seeded agents stand in for the file's local ones: parse against stand-ins
            # of the same names, then point the steps at the real agents.
            file = {
                **document,
                "agents": {
                    n: {"type": a.type.value, "config": a.config} for n, a in agents.items()
                },
            }
            blueprint = self.files.blueprint(file, actor.user_id)
            by_new_id = {agent.id: agents[local] for local, agent in blueprint.agents.items()}
            steps = [
                replace(step, agent_id=by_new_id[step.agent_id].id) if step.agent_id else step
                for step in blueprint.steps
            ]
            await uow.workflows.add(replace(blueprint.workflow, status=WorkflowStatus.ACTIVE))
            for step in steps:
                await uow.steps.add(step)
            report.created.append(f"workflow {name!r} ({len(steps)} steps)")

    async def _templates(self, uow: UnitOfWork, report: SeedReport) -> None:
        for name, (category, kind, description, data, tags) in seed_data.TEMPLATES.items():
            query = ListQuery.build(
                TEMPLATE_QUERY, page_size=100, search=name, filters={"is_official": True}
            )
            if any(t.name == name for t in (await uow.templates.list(query)).items):
                report.existing.append(f"template {name!r}")
                continue
            now = self.clock.now()
            await uow.templates.add(
                Template(
                    id=TemplateId(self.ids.new_id()),
                    created_at=now,
                    updated_at=now,
                    user_id=None,
                    name=name,
                    type=TemplateType(kind),
                    category=category,
                    description=description,
                    template_data=data,
                    is_official=True,
                    is_public=True,
                    tags=tuple(tags),
                )
            )
            report.created.append(f"template {name!r}")
