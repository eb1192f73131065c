"""Templates: browse them (public ones need no account) and instantiate them.

A template is visible to everyone when it is public (official templates are), to its owner,
and to ADMINs; any other is ``NotFound``. Instantiating one creates, for the caller, in one
transaction with its usage count and an audit entry:

- an AGENT template (``templateData = {type, name?, description?, config}``): a DRAFT agent,
  its config the template's shallow-merged with ``customizations``, then checked;
- a WORKFLOW template (``templateData`` is a workflow file, docs/workflow-files.md): the
  file's agents, a DRAFT workflow and its steps (``customizations = {inputs?}`` over the
  file's defaults);
- a STEP template: nothing (``InvalidState``): clients insert those into workflows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from turbocat_core.agents.contract import AgentExecutors
from turbocat_core.domain.access import Actor, can_see, require_scope
from turbocat_core.domain.agent import Agent, AgentStatus, AgentType
from turbocat_core.domain.common import (
    MAX_PAGE_SIZE,
    AgentId,
    ListQuery,
    Page,
    TemplateId,
    check_name,
)
from turbocat_core.domain.template import Template, TemplateType
from turbocat_core.domain.workflow import Workflow, WorkflowStatus, WorkflowStep
from turbocat_core.errors import InvalidState, NotFound, ValidationFailed
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.randomness import IdGenerator
from turbocat_core.ports.storage import UnitOfWork, UnitOfWorkFactory
from turbocat_core.usecases.agents import checked
from turbocat_core.usecases.audit import audit
from turbocat_core.usecases.workflow_files import WorkflowFiles

TEMPLATE_INSTANTIATED: Final = "template.instantiated"
RESOURCE: Final = "template"
WORKFLOW_CUSTOMIZATIONS: Final = frozenset({"inputs"})


def template_visible(actor: Actor | None, template: Template) -> bool:
    """Public templates to anyone (no account needed); private ones to the owner or ADMINs."""
    return template.is_public or (
        actor is not None and can_see(actor, template.user_id, is_public=False)
    )


async def _load_visible(uow: UnitOfWork, actor: Actor | None, template_id: TemplateId) -> Template:
    template = await uow.templates.get(template_id)
    if template is None or not template_visible(actor, template):
        raise NotFound(RESOURCE, template_id)
    return template


def visible_query(actor: Actor | None, query: ListQuery) -> ListQuery:
    """``query`` limited to what ``actor`` (``None``: anonymous) may see."""
    if actor is None:
        return replace(
            query, owner_id=None, include_public=False, filters={**query.filters, "is_public": True}
        )
    if actor.is_admin:
        return replace(query, owner_id=None, include_public=False)
    return replace(query, owner_id=actor.user_id, include_public=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListTemplates:
    uow: UnitOfWorkFactory

    async def __call__(self, actor: Actor | None, query: ListQuery) -> Page[Template]:
        """Public templates, plus the caller's own private ones (every one for an ADMIN)."""
        async with self.uow() as uow:
            return await uow.templates.list(visible_query(actor, query))


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateCategories:
    uow: UnitOfWorkFactory

    async def __call__(self, actor: Actor | None) -> list[tuple[str, int]]:
        """Each category of the templates the caller can see, with how many, by name."""
        async with self.uow() as uow:
            counts = dict(await uow.templates.categories())
            if actor is None:
                return sorted(counts.items())
            private = visible_query(
                actor,
                ListQuery(page_size=MAX_PAGE_SIZE, sort_by="name", filters={"is_public": False}),
            )
            page_number = 1
            while True:
                page = await uow.templates.list(replace(private, page=page_number))
                for template in page.items:
                    counts[template.category] = counts.get(template.category, 0) + 1
                if not page.has_next:
                    break
                page_number += 1
        return sorted(counts.items())


@dataclass(frozen=True, slots=True, kw_only=True)
class GetTemplate:
    uow: UnitOfWorkFactory

    async def __call__(self, actor: Actor | None, template_id: TemplateId) -> Template:
        """The template; ``NotFound`` when missing, deleted or another user's private one."""
        async with self.uow() as uow:
            return await _load_visible(uow, actor, template_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Instantiated:
    """What an instantiation created: an agent, or a workflow with its steps and agents."""

    resource_type: TemplateType
    resource: Agent | Workflow
    steps: tuple[WorkflowStep, ...] = ()
    agents: tuple[Agent, ...] = ()

    @property
    def workflow(self) -> Workflow:
        """The workflow made by a WORKFLOW template (``TypeError`` for an agent)."""
        if not isinstance(self.resource, Workflow):
            raise TypeError("this instantiation made an agent, not a workflow")
        return self.resource


@dataclass(frozen=True, slots=True, kw_only=True)
class InstantiateTemplate:
    """Create an agent or a workflow from a template for the actor (see the module doc)."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    executors: AgentExecutors
    files: WorkflowFiles

    async def __call__(
        self,
        actor: Actor,
        template_id: TemplateId,
        *,
        name: str | None = None,
        customizations: Mapping[str, Any] | None = None,
    ) -> Instantiated:
        """Raises ``NotFound`` (missing or invisible), ``InvalidState`` (a STEP template),
        ``PermissionDenied`` (an API key without ``agents:write`` / ``workflows:write``) or
        ``ValidationFailed`` (the name, the customizations, or what they make)."""
        custom = dict(customizations or {})
        async with self.uow() as uow:
            template = await _load_visible(uow, actor, template_id)
            if template.type is TemplateType.STEP:
                raise InvalidState("STEP templates are inserted into workflows by clients")
            if template.type is TemplateType.AGENT:
                require_scope(actor, "agents", "write")
                agent = self._agent(actor, template, name, custom)
                await uow.agents.add(agent)
                made = Instantiated(resource_type=TemplateType.AGENT, resource=agent)
            else:
                require_scope(actor, "workflows", "write")
                made = self._workflow(actor, template, name, custom)
                for created in made.agents:
                    await uow.agents.add(created)
                await uow.workflows.add(made.workflow)
                for step in made.steps:
                    await uow.steps.add(step)
            await uow.templates.increment_usage(template.id)
            await audit(
                uow,
                self.clock,
                self.ids,
                TEMPLATE_INSTANTIATED,
                user_id=actor.user_id,
                resource_type=RESOURCE,
                resource_id=template.id,
                metadata={
                    "templateName": template.name,
                    "resourceType": made.resource_type.value,
                    "resourceId": str(made.resource.id),
                    "agentIds": [str(a.id) for a in made.agents],
                },
            )
            await uow.commit()
        return made

    def _agent(
        self, actor: Actor, template: Template, name: str | None, custom: dict[str, Any]
    ) -> Agent:
        data = template.template_data
        try:
            agent_type = AgentType(str(data.get("type")))
        except ValueError:
            raise ValidationFailed.field(
                "templateData.type", "the template does not name an agent type"
            ) from None
        config = data.get("config", {})
        if not isinstance(config, dict):
            raise ValidationFailed.field("templateData.config", "must be an object")
        described = data.get("description", template.description)
        now = self.clock.now()
        agent = Agent(
            id=AgentId(self.ids.new_id()),
            created_at=now,
            updated_at=now,
            user_id=actor.user_id,
            name=name if name is not None else str(data.get("name") or template.name),
            type=agent_type,
            description=described if isinstance(described, str) else None,
            status=AgentStatus.DRAFT,
            config={**config, **custom},
            tags=template.tags,
        )
        return checked(agent, self.executors, ("name", "description", "config", "tags"))

    def _workflow(
        self, actor: Actor, template: Template, name: str | None, custom: dict[str, Any]
    ) -> Instantiated:
        unknown = sorted(set(custom) - WORKFLOW_CUSTOMIZATIONS)
        if unknown:
            raise ValidationFailed.field(
                f"customizations.{unknown[0]}", "unknown; a workflow template takes inputs"
            )
        document = dict(template.template_data)
        inputs = custom.get("inputs", {})
        if not isinstance(inputs, dict):
            raise ValidationFailed.field("customizations.inputs", "must be an object")
        defaults = document.get("inputs", {})
        if inputs:
            document["inputs"] = {**(defaults if isinstance(defaults, dict) else {}), **inputs}
        if name is not None:
            document["name"] = check_name(name)
        blueprint = self.files.blueprint(document, actor.user_id)
        workflow = replace(blueprint.workflow, status=WorkflowStatus.DRAFT)
        return Instantiated(
            resource_type=TemplateType.WORKFLOW,
            resource=workflow,
            steps=tuple(blueprint.steps),
            agents=tuple(blueprint.agents.values()),
        )
