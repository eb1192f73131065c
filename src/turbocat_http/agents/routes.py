"""``GET/POST /agents``, ``GET/PATCH/DELETE /agents/{id}``, ``POST /agents/{id}/duplicate``,
``GET /agents/{id}/versions`` (scopes ``agents:read`` / ``agents:write``)."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

from typing import Annotated
from uuid import UUID

from litestar import Router, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from turbocat_core.domain.access import Actor
from turbocat_core.domain.agent import AGENT_QUERY, Agent, AgentStatus, AgentType
from turbocat_core.domain.common import AgentId
from turbocat_core.usecases.agents import (
    AgentVersions,
    CreateAgent,
    DeleteAgent,
    DuplicateAgent,
    GetAgent,
    ListAgents,
    UpdateAgent,
)
from turbocat_http.agents.schemas import AgentCreateIn, AgentUpdateIn, DuplicateAgentIn
from turbocat_http.auth.access import scoped
from turbocat_http.auth.security import ACTOR
from turbocat_http.dependencies import provide
from turbocat_http.envelope import ListParams, list_query, ok, paged
from turbocat_http.openapi import error_responses
from turbocat_http.schemas import Envelope, PageEnvelope

SCOPE = "agents"


@get("/", **scoped(SCOPE, "read"))
async def list_agents(
    actor: NamedDependency[Actor],
    listing: NamedDependency[ListParams],
    list_agents: NamedDependency[ListAgents],
    agent_type: Annotated[AgentType | None, QueryParameter(name="type")] = None,
    status: Annotated[AgentStatus | None, QueryParameter()] = None,
    is_public: Annotated[bool | None, QueryParameter(name="isPublic")] = None,
    user_id: Annotated[
        UUID | None, QueryParameter(name="userId", description="ADMIN: one user's agents.")
    ] = None,
) -> PageEnvelope[Agent]:
    """Your agents (an ADMIN's listing covers everyone's), filtered and paged."""
    filters = {"type": agent_type, "status": status, "is_public": is_public, "user_id": user_id}
    return paged(await list_agents(actor, list_query(listing, AGENT_QUERY, filters=filters)))


@post("/", status_code=HTTP_201_CREATED, **scoped(SCOPE, "write"))
async def create_agent(
    data: JSONBody[AgentCreateIn],
    actor: NamedDependency[Actor],
    create_agent: NamedDependency[CreateAgent],
) -> Envelope[Agent]:
    """A new agent (DRAFT, version 1 unless told otherwise); its config is checked."""
    return ok(await create_agent(actor, data.to_new()))


@get("/{agent_id:uuid}", **scoped(SCOPE, "read"))
async def get_agent(
    agent_id: FromPath[UUID], actor: NamedDependency[Actor], get_agent: NamedDependency[GetAgent]
) -> Envelope[Agent]:
    """One of your agents, or a public one."""
    return ok(await get_agent(actor, AgentId(agent_id)))


@patch("/{agent_id:uuid}", **scoped(SCOPE, "write"), responses=error_responses(403))
async def update_agent(
    agent_id: FromPath[UUID],
    data: JSONBody[AgentUpdateIn],
    actor: NamedDependency[Actor],
    update_agent: NamedDependency[UpdateAgent],
) -> Envelope[Agent]:
    """Change the fields sent (403 on another user's public agent)."""
    return ok(await update_agent(actor, AgentId(agent_id), data.changes()))


@delete(
    "/{agent_id:uuid}",
    status_code=HTTP_204_NO_CONTENT,
    **scoped(SCOPE, "write"),
    responses=error_responses(403),
)
async def delete_agent(
    agent_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    delete_agent: NamedDependency[DeleteAgent],
) -> None:
    """Delete an agent (soft: it reads as absent from then on)."""
    await delete_agent(actor, AgentId(agent_id))


@post("/{agent_id:uuid}/duplicate", status_code=HTTP_201_CREATED, **scoped(SCOPE, "write"))
async def duplicate_agent(
    agent_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    duplicate_agent: NamedDependency[DuplicateAgent],
    data: JSONBody[DuplicateAgentIn | None] = None,
) -> Envelope[Agent]:
    """A private DRAFT copy: of your own agent, the next version of its tree (``parentId`` the
    root, ``version`` the highest + 1); of another user's public agent, a fork that starts a
    tree of its own (``parentId`` null, ``version`` 1)."""
    return ok(await duplicate_agent(actor, AgentId(agent_id), name=data.name if data else None))


@get("/{agent_id:uuid}/versions", **scoped(SCOPE, "read"))
async def agent_versions(
    agent_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    agent_versions: NamedDependency[AgentVersions],
) -> Envelope[list[Agent]]:
    """Every live version of the agent's tree you can see, newest first."""
    return ok(await agent_versions(actor, AgentId(agent_id)))


router = Router(
    "/agents",
    route_handlers=[
        list_agents,
        create_agent,
        get_agent,
        update_agent,
        delete_agent,
        duplicate_agent,
        agent_versions,
    ],
    dependencies={
        "actor": ACTOR,
        **provide(
            "list_agents",
            "get_agent",
            "agent_versions",
            "create_agent",
            "update_agent",
            "delete_agent",
            "duplicate_agent",
        ),
    },
    tags=["agents"],
)
