"""``/workflows``: CRUD with steps (one transaction each), execute, a workflow's executions,
and workflow files (import, export)."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

from typing import Annotated, Any
from uuid import UUID

from litestar import Router, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from turbocat_core.domain.access import Actor
from turbocat_core.domain.common import UserId, WorkflowId
from turbocat_core.domain.execution import (
    EXECUTION_QUERY,
    Execution,
    ExecutionStatus,
    TriggerType,
)
from turbocat_core.domain.workflow import WORKFLOW_QUERY, Workflow, WorkflowStatus
from turbocat_core.usecases.executions import ListWorkflowExecutions, StartExecution
from turbocat_core.usecases.workflow_files import ImportWorkflow
from turbocat_core.usecases.workflows import (
    CreateWorkflow,
    DeleteWorkflow,
    ExportWorkflow,
    GetWorkflow,
    ListWorkflows,
    UpdateWorkflow,
    WorkflowWithSteps,
)
from turbocat_http.auth.access import scoped
from turbocat_http.auth.security import ACTOR
from turbocat_http.dependencies import provide
from turbocat_http.envelope import ListParams, list_query, ok, paged
from turbocat_http.openapi import error_responses
from turbocat_http.schemas import Envelope, PageEnvelope
from turbocat_http.workflows.schemas import ExecuteIn, WorkflowFile, WorkflowIn, WorkflowPatch

WORKFLOWS = "workflows"
EXECUTIONS = "executions"


@get("/", **scoped(WORKFLOWS, "read"))
async def list_workflows(
    actor: NamedDependency[Actor],
    listing: NamedDependency[ListParams],
    list_workflows: NamedDependency[ListWorkflows],
    status: Annotated[WorkflowStatus | None, QueryParameter()] = None,
    is_public: Annotated[bool | None, QueryParameter(name="isPublic")] = None,
    schedule_enabled: Annotated[bool | None, QueryParameter(name="scheduleEnabled")] = None,
    user_id: Annotated[
        UUID | None,
        QueryParameter(name="userId", description="ADMIN only: one user's workflows."),
    ] = None,
) -> PageEnvelope[Workflow]:
    """The caller's workflows (an ADMIN's: everyone's), newest first; filters ``status``,
    ``isPublic``, ``scheduleEnabled``; ``search`` in name and description; ``tags`` (all of
    them)."""
    query = list_query(
        listing,
        WORKFLOW_QUERY,
        filters={"status": status, "is_public": is_public, "schedule_enabled": schedule_enabled},
    )
    owner = UserId(user_id) if user_id is not None else None
    return paged(await list_workflows(actor, query, user_id=owner))


@post("/", status_code=HTTP_201_CREATED, **scoped(WORKFLOWS, "write"))
async def create_workflow(
    data: JSONBody[WorkflowIn],
    actor: NamedDependency[Actor],
    create_workflow: NamedDependency[CreateWorkflow],
) -> Envelope[WorkflowWithSteps]:
    """A workflow and its steps, created together once the DAG validates (``details`` name
    each problem as ``steps.<index>.<field>``; a cycle is reported as its path)."""
    return ok(await create_workflow(actor, data.fields(), data.step_changes()))


@get("/{workflow_id:uuid}", **scoped(WORKFLOWS, "read"))
async def get_workflow(
    workflow_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    get_workflow: NamedDependency[GetWorkflow],
) -> Envelope[WorkflowWithSteps]:
    """The workflow with its ``steps`` in order (position, then step key)."""
    return ok(await get_workflow(actor, WorkflowId(workflow_id)))


@patch("/{workflow_id:uuid}", **scoped(WORKFLOWS, "write"), responses=error_responses(403))
async def update_workflow(
    workflow_id: FromPath[UUID],
    data: JSONBody[WorkflowPatch],
    actor: NamedDependency[Actor],
    update_workflow: NamedDependency[UpdateWorkflow],
) -> Envelope[WorkflowWithSteps]:
    """Change fields and steps in one transaction: a step item with ``id`` updates that step,
    one without creates a step, ``{"id", "_delete": true}`` removes one; steps not mentioned
    stay. Anything invalid (a field, an item, the DAG) changes nothing. A change to the steps
    or the run settings bumps ``version``; running executions keep the steps they pinned."""
    return ok(
        await update_workflow(actor, WorkflowId(workflow_id), data.fields(), data.step_changes())
    )


@delete(
    "/{workflow_id:uuid}",
    status_code=HTTP_204_NO_CONTENT,
    **scoped(WORKFLOWS, "write"),
    responses=error_responses(403),
)
async def delete_workflow(
    workflow_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    delete_workflow: NamedDependency[DeleteWorkflow],
) -> None:
    """Soft delete: the workflow is gone for the API; its executions stay readable."""
    await delete_workflow(actor, WorkflowId(workflow_id))


@post(
    "/{workflow_id:uuid}/execute",
    status_code=HTTP_202_ACCEPTED,
    **scoped(EXECUTIONS, "write"),
    responses=error_responses(403, 409),
)
async def execute_workflow(
    workflow_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    start_execution: NamedDependency[StartExecution],
    data: JSONBody[ExecuteIn | None] = None,
) -> Envelope[Execution]:
    """Start a run (202, the PENDING execution; follow it with ``GET /executions/{id}`` or
    its ``/stream``). The workflow must be ACTIVE with at least one step (409 INVALID_STATE).
    ``inputs`` go over the workflow's default inputs (``definition.inputs``)."""
    body = data or ExecuteIn()
    trigger = TriggerType.API if actor.api_key_id is not None else TriggerType.MANUAL
    execution = await start_execution(
        actor, WorkflowId(workflow_id), inputs=body.inputs, metadata=body.metadata, trigger=trigger
    )
    return ok(execution)


@get("/{workflow_id:uuid}/executions", **scoped(EXECUTIONS, "read"))
async def list_workflow_executions(
    workflow_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    listing: NamedDependency[ListParams],
    list_workflow_executions: NamedDependency[ListWorkflowExecutions],
    status: Annotated[ExecutionStatus | None, QueryParameter()] = None,
) -> PageEnvelope[Execution]:
    """The workflow's executions, newest first; filter ``status``."""
    query = list_query(listing, EXECUTION_QUERY, filters={"status": status})
    return paged(await list_workflow_executions(actor, WorkflowId(workflow_id), query))


@post("/import", status_code=HTTP_201_CREATED, **scoped(WORKFLOWS, "write"))
async def import_workflow(
    data: JSONBody[dict[str, Any]],
    actor: NamedDependency[Actor],
    import_workflow: NamedDependency[ImportWorkflow],
    status: Annotated[
        WorkflowStatus,
        QueryParameter(description="The new workflow's status (default DRAFT)."),
    ] = WorkflowStatus.DRAFT,
) -> Envelope[WorkflowWithSteps]:
    """Create a workflow and its agents from a workflow file (docs/workflow-files.md, as ``GET
    /workflows/{id}/export`` writes them); problems name the file's paths
    (``steps.2.agent``, ``agents.x.config.operation``)."""
    blueprint = await import_workflow(actor, data, status=status)
    return ok(WorkflowWithSteps.of(blueprint.workflow, blueprint.steps))


@get("/{workflow_id:uuid}/export", **scoped(WORKFLOWS, "read"))
async def export_workflow(
    workflow_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    export_workflow: NamedDependency[ExportWorkflow],
) -> Envelope[WorkflowFile]:
    """The workflow as a workflow file, with the agents its steps use: ``data`` imports
    as it is with ``POST /workflows/import``, into any account or server."""
    return ok(await export_workflow(actor, WorkflowId(workflow_id)))


router = Router(
    "/workflows",
    route_handlers=[
        list_workflows,
        create_workflow,
        get_workflow,
        update_workflow,
        delete_workflow,
        execute_workflow,
        list_workflow_executions,
        import_workflow,
        export_workflow,
    ],
    dependencies={
        "actor": ACTOR,
        **provide(
            "list_workflows",
            "create_workflow",
            "get_workflow",
            "update_workflow",
            "delete_workflow",
            "start_execution",
            "list_workflow_executions",
            "import_workflow",
            "export_workflow",
        ),
    },
    tags=["workflows"],
)
