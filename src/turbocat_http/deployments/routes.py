"""``GET/POST /deployments``, ``GET/PATCH/DELETE /deployments/{id}``,
``POST /deployments/{id}/start|stop``, ``GET /deployments/{id}/logs``."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

from typing import Annotated, Any
from uuid import UUID

from litestar import Request, Router, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from turbocat_adapters.wire import to_wire
from turbocat_core.domain.access import Actor
from turbocat_core.domain.audit import AUDIT_QUERY
from turbocat_core.domain.common import AgentId, DeploymentId, Page, WorkflowId
from turbocat_core.domain.deployment import (
    DEPLOYMENT_QUERY,
    Deployment,
    DeploymentStatus,
    Environment,
    HealthStatus,
)
from turbocat_core.usecases.deployment_lifecycle import (
    DeploymentEvent,
    ListDeploymentEvents,
    StartDeployment,
    StopDeployment,
)
from turbocat_core.usecases.deployments import (
    CreateDeployment,
    DeleteDeployment,
    GetDeployment,
    ListDeployments,
    UpdateDeployment,
    masked_variables,
)
from turbocat_http.auth.access import scoped
from turbocat_http.auth.security import ACTOR, client_of
from turbocat_http.dependencies import provide
from turbocat_http.deployments.schemas import (
    CreatedDeployment,
    CreateDeploymentIn,
    DeploymentOut,
    UpdateDeploymentIn,
)
from turbocat_http.envelope import ListParams, list_query, ok, paged
from turbocat_http.openapi import error_responses
from turbocat_http.schemas import Envelope, PageEnvelope

SCOPE = "deployments"


def deployment_out(deployment: Deployment) -> dict[str, Any]:
    """The wire form: ``to_wire`` (which leaves the ciphertexts out) plus the masked names."""
    wire: dict[str, Any] = to_wire(deployment)
    wire["environmentVariables"] = masked_variables(deployment)
    return wire


@post("/", status_code=HTTP_201_CREATED, **scoped(SCOPE, "write"))
async def create_deployment(
    data: JSONBody[CreateDeploymentIn],
    request: Request[Any, Any, Any],
    actor: NamedDependency[Actor],
    create_deployment: NamedDependency[CreateDeployment],
) -> Envelope[CreatedDeployment]:
    """A STOPPED deployment. ``webhookSecret`` signs its webhooks and is shown this once.
    VALIDATION_ERROR names ``workflowId``/``agentId`` when the target is missing, not
    yours, or both or neither are given."""
    deployment, secret = await create_deployment(
        actor,
        name=data.name,
        workflow_id=WorkflowId(data.workflow_id) if data.workflow_id else None,
        agent_id=AgentId(data.agent_id) if data.agent_id else None,
        description=data.description,
        environment=data.environment,
        config=data.config,
        environment_variables=data.environment_variables,
        allocated_memory_mb=data.allocated_memory_mb,
        allocated_cpu=data.allocated_cpu,
        client=client_of(request),
    )
    return ok({"deployment": deployment_out(deployment), "webhookSecret": secret})


@get("/", **scoped(SCOPE, "read"))
async def list_deployments(
    actor: NamedDependency[Actor],
    listing: NamedDependency[ListParams],
    list_deployments: NamedDependency[ListDeployments],
    status: FromQuery[DeploymentStatus | None] = None,
    environment: FromQuery[Environment | None] = None,
    health_status: Annotated[HealthStatus | None, QueryParameter(name="healthStatus")] = None,
    workflow_id: Annotated[UUID | None, QueryParameter(name="workflowId")] = None,
    agent_id: Annotated[UUID | None, QueryParameter(name="agentId")] = None,
    user_id: Annotated[
        UUID | None, QueryParameter(name="userId", description="ADMIN: one user's only.")
    ] = None,
) -> PageEnvelope[DeploymentOut]:
    """Your deployments (an ADMIN's: everyone's), newest first. ``healthStatus`` here is
    the one last computed (``GET /deployments/{id}`` recomputes it)."""
    query = list_query(
        listing,
        DEPLOYMENT_QUERY,
        filters={
            "status": status,
            "environment": environment,
            "health_status": health_status,
            "workflow_id": workflow_id,
            "agent_id": agent_id,
            "user_id": user_id,
        },
    )
    page = await list_deployments(actor, query)
    return paged(
        Page(
            items=[deployment_out(d) for d in page.items],
            total=page.total,
            page=page.page,
            page_size=page.page_size,
        )
    )


@get("/{deployment_id:uuid}", **scoped(SCOPE, "read"))
async def get_deployment(
    deployment_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    get_deployment: NamedDependency[GetDeployment],
) -> Envelope[DeploymentOut]:
    """One deployment, its ``healthStatus`` recomputed from its last 20 finished
    executions (and ``lastHealthCheckAt`` set)."""
    return ok(deployment_out(await get_deployment(actor, DeploymentId(deployment_id))))


@patch("/{deployment_id:uuid}", **scoped(SCOPE, "write"))
async def update_deployment(
    deployment_id: FromPath[UUID],
    data: JSONBody[UpdateDeploymentIn],
    request: Request[Any, Any, Any],
    actor: NamedDependency[Actor],
    update_deployment: NamedDependency[UpdateDeployment],
) -> Envelope[DeploymentOut]:
    """Change the fields sent. ``environmentVariables`` sets the names given (``null``
    removes one) and keeps the rest."""
    updated = await update_deployment(
        actor, DeploymentId(deployment_id), data.changes(), client_of(request)
    )
    return ok(deployment_out(updated))


@delete("/{deployment_id:uuid}", status_code=HTTP_204_NO_CONTENT, **scoped(SCOPE, "write"))
async def delete_deployment(
    deployment_id: FromPath[UUID],
    request: Request[Any, Any, Any],
    actor: NamedDependency[Actor],
    delete_deployment: NamedDependency[DeleteDeployment],
) -> None:
    """Delete (soft): it stops serving webhooks and its schedule at once."""
    await delete_deployment(actor, DeploymentId(deployment_id), client_of(request))


@post(
    "/{deployment_id:uuid}/start",
    status_code=HTTP_200_OK,
    **scoped(SCOPE, "write"),
    responses=error_responses(409),
)
async def start_deployment(
    deployment_id: FromPath[UUID],
    request: Request[Any, Any, Any],
    actor: NamedDependency[Actor],
    start_deployment: NamedDependency[StartDeployment],
) -> Envelope[DeploymentOut]:
    """STOPPED, FAILED or MAINTENANCE -> STARTING -> RUNNING. INVALID_STATE from any other
    status, or when its workflow or agent no longer exists."""
    started = await start_deployment(actor, DeploymentId(deployment_id), client_of(request))
    return ok(deployment_out(started))


@post(
    "/{deployment_id:uuid}/stop",
    status_code=HTTP_200_OK,
    **scoped(SCOPE, "write"),
    responses=error_responses(409),
)
async def stop_deployment(
    deployment_id: FromPath[UUID],
    request: Request[Any, Any, Any],
    actor: NamedDependency[Actor],
    stop_deployment: NamedDependency[StopDeployment],
) -> Envelope[DeploymentOut]:
    """RUNNING -> STOPPING -> STOPPED. INVALID_STATE from any other status."""
    stopped = await stop_deployment(actor, DeploymentId(deployment_id), client_of(request))
    return ok(deployment_out(stopped))


@get("/{deployment_id:uuid}/logs", **scoped(SCOPE, "read"))
async def deployment_logs(
    deployment_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    listing: NamedDependency[ListParams],
    list_deployment_events: NamedDependency[ListDeploymentEvents],
    action: Annotated[
        str | None,
        QueryParameter(max_length=64, description="One action, e.g. deployment.started."),
    ] = None,
) -> PageEnvelope[DeploymentEvent]:
    """The deployment's events, newest first: ``deployment.created``, ``.updated``,
    ``.started``, ``.stopped``, ``.webhook_received`` (body size, execution id),
    ``.schedule_fired`` (tick, execution id). ``sortBy``: createdAt or action; ``search``
    matches the action."""
    query = list_query(listing, AUDIT_QUERY, filters={"action": action})
    return paged(await list_deployment_events(actor, DeploymentId(deployment_id), query))


router = Router(
    "/deployments",
    route_handlers=[
        create_deployment,
        list_deployments,
        get_deployment,
        update_deployment,
        delete_deployment,
        start_deployment,
        stop_deployment,
        deployment_logs,
    ],
    dependencies={
        "actor": ACTOR,
        **provide(
            "create_deployment",
            "list_deployments",
            "get_deployment",
            "update_deployment",
            "delete_deployment",
            "start_deployment",
            "stop_deployment",
            "list_deployment_events",
        ),
    },
    tags=["deployments"],
)
