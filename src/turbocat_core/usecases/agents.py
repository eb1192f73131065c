"""Agents: create, read, list, change, delete, duplicate, and their version trees.

Visibility follows ``domain.access``: another user's private agent is ``NotFound``; another
user's public agent can be read and duplicated (a fork) but not changed (``PermissionDenied``);
ADMINs see and change everything. Writes record an audit entry in the same transaction.

Duplicating your own agent adds a version to its tree (``parent_id`` = the tree's root,
``version`` = the highest live version + 1). Duplicating someone else's agent (a public one,
or anyone's for an ADMIN) is a fork: a new tree owned by the caller (``parent_id`` None,
``version`` 1), so a version tree never spans owners; the audit entry records the source.

An agent that another user's workflow uses is pinned, like a published package version
(``check_unpinned``): what it runs (``PINNED``) never changes, and it is not unpublished,
deactivated or deleted while they use it; its owner duplicates it into a new version, which
its users adopt by pointing their steps at it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from turbocat_core.agents.configs import masked_config
from turbocat_core.agents.contract import AgentExecutors
from turbocat_core.domain.access import (
    Actor,
    can_see,
    require_own_listing,
    require_owner,
    require_visible,
)
from turbocat_core.domain.agent import RUNNABLE_AGENT_STATUSES, Agent, AgentStatus, AgentType
from turbocat_core.domain.common import (
    AgentId,
    JsonObject,
    ListQuery,
    Page,
    check_name,
    clean_tags,
    next_version,
)
from turbocat_core.errors import Conflict, FieldError, NotFound, ValidationFailed
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.randomness import IdGenerator
from turbocat_core.ports.storage import UnitOfWork, UnitOfWorkFactory
from turbocat_core.usecases.audit import audit, changed_fields

AGENT_CREATED: Final = "agent.created"
AGENT_UPDATED: Final = "agent.updated"
AGENT_DELETED: Final = "agent.deleted"
AGENT_DUPLICATED: Final = "agent.duplicated"
RESOURCE: Final = "agent"

LIMITS: Final[Mapping[str, tuple[str, int, int]]] = {
    "max_execution_time": ("maxExecutionTime", 1, 86_400),
    "max_memory_mb": ("maxMemoryMb", 16, 65_536),
    "max_concurrent_executions": ("maxConcurrentExecutions", 1, 1_000),
}
"""Field -> (wire name, lowest, highest) of the per-agent limits."""
DESCRIPTION_MAX: Final = 10_000
CAPABILITY_MAX: Final = 100
MAX_CAPABILITIES: Final = 100

UPDATABLE: Final = (
    "name",
    "description",
    "status",
    "config",
    "capabilities",
    "parameters",
    "max_execution_time",
    "max_memory_mb",
    "max_concurrent_executions",
    "tags",
    "is_public",
)
"""What ``PATCH`` may change (the type never changes: configs are per type)."""
AUDITED: Final = ("type", *UPDATABLE)
PINNED: Final = ("config", "max_execution_time", "max_memory_mb", "max_concurrent_executions")
"""What decides what an agent runs (with its type, which never changes): fixed once another
user's workflow uses the agent. Name, description, tags, capabilities and parameters are
descriptions: they may still change."""
_WIRE: Final = {
    "is_public": "isPublic",
    **{name: wire for name, (wire, _, _) in LIMITS.items()},
}


@dataclass(frozen=True, slots=True, kw_only=True)
class NewAgent:
    """What a client gives to create an agent (defaults as docs/api.md states them)."""

    name: str
    type: AgentType
    description: str | None = None
    status: AgentStatus = AgentStatus.DRAFT
    config: JsonObject = field(default_factory=dict)
    capabilities: Sequence[str] = ()
    parameters: JsonObject = field(default_factory=dict)
    max_execution_time: int = 300
    max_memory_mb: int = 512
    max_concurrent_executions: int = 1
    tags: Sequence[str] = ()
    is_public: bool = False


def _clean_capabilities(values: Sequence[str], problems: list[FieldError]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    if len(values) > MAX_CAPABILITIES:
        problems.append(FieldError("capabilities", f"at most {MAX_CAPABILITIES} capabilities"))
    for index, value in enumerate(values):
        text = value.strip() if isinstance(value, str) else ""
        if not text or len(text) > CAPABILITY_MAX:
            problems.append(
                FieldError(f"capabilities.{index}", f"must be 1 to {CAPABILITY_MAX} characters")
            )
        else:
            seen.setdefault(text, None)
    return tuple(seen)


def checked(agent: Agent, executors: AgentExecutors, fields: Sequence[str] = AUDITED) -> Agent:
    """``agent`` with its ``fields`` checked and normalised (names trimmed, tags deduplicated);
    ``ValidationFailed`` names every bad field (configs as ``config.<path>``)."""
    problems: list[FieldError] = []
    changes: dict[str, Any] = {}

    def attempt(name: str, check: Any) -> None:
        try:
            changes[name] = check()
        except ValidationFailed as error:
            problems.extend(error.details)

    if "name" in fields:
        attempt("name", lambda: check_name(agent.name))
    description = agent.description
    if "description" in fields and description is not None and len(description) > DESCRIPTION_MAX:
        problems.append(FieldError("description", f"must be at most {DESCRIPTION_MAX} characters"))
    if "tags" in fields:
        attempt("tags", lambda: clean_tags(agent.tags))
    if "capabilities" in fields:
        changes["capabilities"] = _clean_capabilities(agent.capabilities, problems)
    for name, (wire, low, high) in LIMITS.items():
        value = getattr(agent, name)
        if name in fields and (
            isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high
        ):
            problems.append(FieldError(wire, f"must be a whole number between {low} and {high}"))
    if "config" in fields or "type" in fields:
        try:
            executors.check_config(agent.type, agent.config)
        except ValidationFailed as error:
            problems.extend(error.details)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValidationFailed(f"{first.field}: {first.message}{more}", problems)
    return replace(agent, **changes)


def agent_changes(
    before: Agent | None, after: Agent, fields: Sequence[str] = AUDITED
) -> JsonObject:
    """The audit ``changes`` between two states of an agent (config secrets masked)."""
    changes = changed_fields(before, after, list(fields))
    if "config" in changes:
        changes["config"] = {k: masked_config(v) for k, v in changes["config"].items()}
    return changes


async def load_visible(uow: UnitOfWork, actor: Actor, agent_id: AgentId) -> Agent:
    """A live agent the actor may see, else ``NotFound``."""
    agent = await uow.agents.get(agent_id)
    if agent is None:
        raise NotFound(RESOURCE, agent_id)
    require_visible(actor, RESOURCE, agent.id, agent.user_id, is_public=agent.is_public)
    return agent


async def _load_owned(uow: UnitOfWork, actor: Actor, agent_id: AgentId) -> Agent:
    agent = await load_visible(uow, actor, agent_id)
    require_owner(actor, RESOURCE, agent.id, agent.user_id, is_public=agent.is_public)
    return agent


async def check_unpinned(uow: UnitOfWork, actor: Actor, before: Agent, after: Agent | None) -> None:
    """``Conflict`` when changing ``before`` into ``after`` (``None``: deleting it) would
    change what another user's workflow runs: a ``PINNED`` field never changes while such a
    workflow uses the agent; making it private, INACTIVE or ARCHIVED, or deleting it, waits
    until none does, except for an ADMIN acting on another user's agent (moderation: the
    users' runs then fail saying the agent is no longer available)."""
    changed = [name for name in PINNED if after and getattr(before, name) != getattr(after, name)]
    retired = after is None or (
        (before.is_public and not after.is_public)
        or (
            before.status in RUNNABLE_AGENT_STATUSES and after.status not in RUNNABLE_AGENT_STATUSES
        )
    )
    if not changed and not retired:
        return
    if not await uow.steps.agent_used_by_others(before.id, before.user_id):
        return
    used = f"agent {before.name!r} ({before.id}) is used by another user's workflow"
    if changed:
        raise Conflict(
            f"{used}, so what it runs is pinned: {', '.join(_WIRE.get(n, n) for n in changed)} "
            "cannot change. Duplicate it (POST /agents/{id}/duplicate) into a new version, "
            "change and publish that one; its users adopt it by pointing their steps at it"
        )
    if actor.is_admin and actor.user_id != before.user_id:
        return
    what = "deleted" if after is None else "made private, INACTIVE or ARCHIVED"
    raise Conflict(f"{used}: it cannot be {what} while they use it")


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateAgent:
    """Create an agent for the actor; its config is checked against its type."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    executors: AgentExecutors

    async def __call__(self, actor: Actor, new: NewAgent) -> Agent:
        """Raises ``ValidationFailed`` naming each bad field."""
        now = self.clock.now()
        agent = checked(
            Agent(
                id=AgentId(self.ids.new_id()),
                created_at=now,
                updated_at=now,
                user_id=actor.user_id,
                name=new.name,
                type=new.type,
                description=new.description,
                status=new.status,
                config=new.config,
                capabilities=tuple(new.capabilities),
                parameters=new.parameters,
                max_execution_time=new.max_execution_time,
                max_memory_mb=new.max_memory_mb,
                max_concurrent_executions=new.max_concurrent_executions,
                tags=tuple(new.tags),
                is_public=new.is_public,
            ),
            self.executors,
        )
        async with self.uow() as uow:
            await uow.agents.add(agent)
            await audit(
                uow,
                self.clock,
                self.ids,
                AGENT_CREATED,
                user_id=actor.user_id,
                resource_type=RESOURCE,
                resource_id=agent.id,
                changes=agent_changes(None, agent),
            )
            await uow.commit()
        return agent


@dataclass(frozen=True, slots=True, kw_only=True)
class GetAgent:
    uow: UnitOfWorkFactory

    async def __call__(self, actor: Actor, agent_id: AgentId) -> Agent:
        """The agent; ``NotFound`` when it is missing, deleted or another user's private one."""
        async with self.uow() as uow:
            return await load_visible(uow, actor, agent_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListAgents:
    uow: UnitOfWorkFactory

    async def __call__(self, actor: Actor, query: ListQuery) -> Page[Agent]:
        """A USER's own agents; an ADMIN's listing covers everyone's (filter ``user_id``).
        ``PermissionDenied`` for a USER filtering on another user's id."""
        if not actor.is_admin:
            require_own_listing(actor, query, "agents")
            query = replace(query, owner_id=actor.user_id, include_public=False)
        async with self.uow() as uow:
            return await uow.agents.list(query)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateAgent:
    """Change some fields of an agent (``UPDATABLE``); a new config is checked again."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    executors: AgentExecutors

    async def __call__(self, actor: Actor, agent_id: AgentId, changes: Mapping[str, Any]) -> Agent:
        """Raises ``NotFound``, ``PermissionDenied`` (another user's public agent),
        ``ValidationFailed``, or ``Conflict`` (a change another user's workflow forbids:
        ``check_unpinned``). Sending nothing that differs writes nothing."""
        problems = [
            FieldError(_WIRE.get(name, name), "cannot be changed" if name == "type" else "unknown")
            for name in changes
            if name not in UPDATABLE
        ]
        if problems:
            raise ValidationFailed(f"{problems[0].field}: {problems[0].message}", problems)
        async with self.uow() as uow:
            agent = await _load_owned(uow, actor, agent_id)
            after = checked(replace(agent, **changes), self.executors, list(changes))
            diff = agent_changes(agent, after, UPDATABLE)
            if not diff:
                return agent
            await check_unpinned(uow, actor, agent, after)
            after = replace(after, updated_at=self.clock.now())
            await uow.agents.update(after)
            await audit(
                uow,
                self.clock,
                self.ids,
                AGENT_UPDATED,
                user_id=actor.user_id,
                resource_type=RESOURCE,
                resource_id=agent.id,
                changes=diff,
            )
            await uow.commit()
        return after


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteAgent:
    """Soft-delete an agent: it reads as absent everywhere but stays stored."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator

    async def __call__(self, actor: Actor, agent_id: AgentId) -> None:
        """Raises ``NotFound``, ``PermissionDenied`` or ``Conflict`` (another user's workflow
        uses it: ``check_unpinned``)."""
        now = self.clock.now()
        async with self.uow() as uow:
            agent = await _load_owned(uow, actor, agent_id)
            await check_unpinned(uow, actor, agent, None)
            deleted = replace(agent, deleted_at=now, updated_at=now)
            await uow.agents.update(deleted)
            await audit(
                uow,
                self.clock,
                self.ids,
                AGENT_DELETED,
                user_id=actor.user_id,
                resource_type=RESOURCE,
                resource_id=agent.id,
                changes=changed_fields(agent, deleted, ["deleted_at"]),
                metadata={"name": agent.name},
            )
            await uow.commit()


@dataclass(frozen=True, slots=True, kw_only=True)
class DuplicateAgent:
    """Copy an agent the actor can see: a new version of their own, or a fork of another's.

    The copy keeps type, description, config, capabilities, parameters, limits and tags;
    it starts private, DRAFT, with zero counters.
    """

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator

    async def __call__(self, actor: Actor, agent_id: AgentId, *, name: str | None = None) -> Agent:
        """Raises ``NotFound`` (missing or invisible) or ``ValidationFailed`` (``name``)."""
        new_name = check_name(name) if name is not None else None
        now = self.clock.now()
        async with self.uow() as uow:
            source = await load_visible(uow, actor, agent_id)
            forked = source.user_id != actor.user_id
            if forked:
                parent_id, version = None, 1
            else:
                parent_id = source.root_id
                version = next_version(await uow.agents.versions(parent_id))
            copy = Agent(
                id=AgentId(self.ids.new_id()),
                created_at=now,
                updated_at=now,
                user_id=actor.user_id,
                name=new_name or source.name,
                type=source.type,
                description=source.description,
                config=source.config,
                capabilities=source.capabilities,
                parameters=source.parameters,
                max_execution_time=source.max_execution_time,
                max_memory_mb=source.max_memory_mb,
                max_concurrent_executions=source.max_concurrent_executions,
                tags=source.tags,
                version=version,
                parent_id=parent_id,
            )
            await uow.agents.add(copy)
            await audit(
                uow,
                self.clock,
                self.ids,
                AGENT_DUPLICATED,
                user_id=actor.user_id,
                resource_type=RESOURCE,
                resource_id=copy.id,
                changes=agent_changes(None, copy, ("name", "version", "parent_id")),
                metadata={"sourceId": str(source.id), "fork": forked},
            )
            await uow.commit()
        return copy


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentVersions:
    uow: UnitOfWorkFactory

    async def __call__(self, actor: Actor, agent_id: AgentId) -> list[Agent]:
        """The live agents of the agent's version tree the actor may see, newest first."""
        async with self.uow() as uow:
            agent = await load_visible(uow, actor, agent_id)
            tree = await uow.agents.versions(agent.root_id)
        return [a for a in tree if can_see(actor, a.user_id, is_public=a.is_public)]
