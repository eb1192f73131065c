"""Deployments (list, one with its webhook URL, masked variables and runs, start/stop) and API
keys (create: the key shown once; list; revoke)."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

from typing import Annotated, Any, Final
from uuid import UUID

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from turbocat_core.domain.access import Actor
from turbocat_core.domain.api_key import API_KEY_QUERY
from turbocat_core.domain.common import ApiKeyId, DeploymentId, ListQuery
from turbocat_core.domain.deployment import DEPLOYMENT_QUERY, DeploymentStatus
from turbocat_core.domain.execution import EXECUTION_QUERY
from turbocat_core.errors import ValidationFailed
from turbocat_core.usecases.api_keys import CreateApiKey, ListApiKeys, RevokeApiKey
from turbocat_core.usecases.deployment_lifecycle import StartDeployment, StopDeployment
from turbocat_core.usecases.deployments import GetDeployment, ListDeployments, masked_variables
from turbocat_core.usecases.execution_listing import ListExecutions
from turbocat_http.auth.security import client_of
from turbocat_http.console.pages import form_of, go, page
from turbocat_http.dependencies import container_of
from turbocat_http.routes import API_PREFIX

PAGE_SIZE: Final = 25
RECENT_RUNS: Final = 10
MAX_KEY_NAME: Final = 100


@get("/deployments", name="console-deployments")
async def deployments_page(
    request: Request[Any, Any, Any],
    actor: NamedDependency[Actor],
    list_deployments: NamedDependency[ListDeployments],
    page_number: Annotated[int, QueryParameter(name="page", ge=1, le=10_000)] = 1,
) -> Template:
    query = ListQuery.build(DEPLOYMENT_QUERY, page=page_number, page_size=PAGE_SIZE)
    return page(request, "deployments.html", found=await list_deployments(actor, query))


@get("/deployments/{deployment_id:uuid}", name="console-deployment")
async def deployment_page(
    request: Request[Any, Any, Any],
    deployment_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    get_deployment: NamedDependency[GetDeployment],
    list_executions: NamedDependency[ListExecutions],
) -> Template:
    deployment = await get_deployment(actor, DeploymentId(deployment_id))
    runs = await list_executions(
        actor,
        ListQuery.build(
            EXECUTION_QUERY, page_size=RECENT_RUNS, filters={"deployment_id": deployment.id}
        ),
    )
    public_url = container_of(request.app.state).settings().public_url
    webhook = (
        f"{public_url}{API_PREFIX}/hooks/{deployment.id}"
        if deployment.workflow_id is not None
        else None
    )
    return page(
        request,
        "deployment.html",
        deployment=deployment,
        variables=masked_variables(deployment),
        webhook=webhook,
        runs=runs,
        running=deployment.status is DeploymentStatus.RUNNING,
    )


@post("/deployments/{deployment_id:uuid}/start", name="console-deployment-start")
async def start(
    request: Request[Any, Any, Any],
    deployment_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    start_deployment: NamedDependency[StartDeployment],
) -> Redirect:
    await start_deployment(actor, DeploymentId(deployment_id), client_of(request))
    return go(request, f"/deployments/{deployment_id}")


@post("/deployments/{deployment_id:uuid}/stop", name="console-deployment-stop")
async def stop(
    request: Request[Any, Any, Any],
    deployment_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    stop_deployment: NamedDependency[StopDeployment],
) -> Redirect:
    await stop_deployment(actor, DeploymentId(deployment_id), client_of(request))
    return go(request, f"/deployments/{deployment_id}")


@get("/api-keys", name="console-api-keys")
async def keys_page(
    request: Request[Any, Any, Any],
    actor: NamedDependency[Actor],
    list_api_keys: NamedDependency[ListApiKeys],
) -> Template:
    keys = await list_api_keys(actor, ListQuery.build(API_KEY_QUERY, page_size=100))
    return page(request, "api_keys.html", keys=keys, created=None, raw=None)


@post("/api-keys", name="console-api-key-create")
async def create_key(
    request: Request[Any, Any, Any],
    actor: NamedDependency[Actor],
    create_api_key: NamedDependency[CreateApiKey],
    list_api_keys: NamedDependency[ListApiKeys],
) -> Template:
    """The new key is in this one answer (not a redirect): it is never shown again."""
    form = await form_of(request)
    name = form.get("name", "").strip()
    if not name or len(name) > MAX_KEY_NAME:
        raise ValidationFailed.field("name", f"must be 1 to {MAX_KEY_NAME} characters")
    scopes = [s for s in form.get("scopes", "").replace(",", " ").split() if s] or None
    key, raw = await create_api_key(actor, name=name, scopes=scopes, client=client_of(request))
    keys = await list_api_keys(actor, ListQuery.build(API_KEY_QUERY, page_size=100))
    return page(request, "api_keys.html", status=201, keys=keys, created=key, raw=raw)


@post("/api-keys/{key_id:uuid}/revoke", name="console-api-key-revoke")
async def revoke_key(
    request: Request[Any, Any, Any],
    key_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    revoke_api_key: NamedDependency[RevokeApiKey],
) -> Redirect:
    await revoke_api_key(actor, ApiKeyId(key_id), client_of(request))
    return go(request, "/api-keys")


HANDLERS = [deployments_page, deployment_page, start, stop, keys_page, create_key, revoke_key]
