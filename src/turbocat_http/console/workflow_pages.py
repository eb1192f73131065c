"""Workflows: the searchable list, one workflow (its DAG, recent runs, Run with inputs), and a
new one pasted as a workflow file (JSON or YAML)."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

import json
from typing import Annotated, Any, Final
from uuid import UUID

import yaml
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from turbocat_core.domain.access import Actor
from turbocat_core.domain.common import ListQuery, WorkflowId
from turbocat_core.domain.execution import EXECUTION_QUERY, TriggerType
from turbocat_core.domain.workflow import WORKFLOW_QUERY, WorkflowStatus
from turbocat_core.errors import ValidationFailed
from turbocat_core.usecases.executions import ListWorkflowExecutions, StartExecution
from turbocat_core.usecases.workflow_files import ImportWorkflow
from turbocat_core.usecases.workflows import GetWorkflow, ListWorkflows
from turbocat_http.console.layout import lay_out
from turbocat_http.console.pages import form_of, go, page

PAGE_SIZE: Final = 25
RECENT_RUNS: Final = 10
MAX_FILE_CHARS: Final = 256 * 1024
EXAMPLE: Final = """name: hello
steps:
  - stepKey: greet
    function: my_function
"""


@get("/workflows", name="console-workflows")
async def workflows_page(
    request: Request[Any, Any, Any],
    actor: NamedDependency[Actor],
    list_workflows: NamedDependency[ListWorkflows],
    search: Annotated[str | None, QueryParameter(max_length=200)] = None,
    page_number: Annotated[int, QueryParameter(name="page", ge=1, le=10_000)] = 1,
) -> Template:
    query = ListQuery.build(WORKFLOW_QUERY, page=page_number, page_size=PAGE_SIZE, search=search)
    found = await list_workflows(actor, query)
    return page(
        request,
        "workflows.html",
        found=found,
        search=search or "",
    )


@get("/workflows/new", name="console-workflow-new")
async def new_workflow_page(
    request: Request[Any, Any, Any], actor: NamedDependency[Actor]
) -> Template:
    return page(request, "workflow_new.html", text="", error=None, example=EXAMPLE)


def parse_file(text: str) -> dict[str, Any]:
    """A pasted workflow file: YAML (JSON is YAML too) holding one object."""
    if len(text) > MAX_FILE_CHARS:
        raise ValidationFailed.field("file", f"is over {MAX_FILE_CHARS} characters")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "it does not parse"
        raise ValidationFailed.field("file", f"invalid JSON or YAML{where}: {problem}") from None
    if not isinstance(document, dict):
        raise ValidationFailed.field("file", "must be an object with name and steps")
    return document


@post("/workflows/new")
async def create_workflow(
    request: Request[Any, Any, Any],
    actor: NamedDependency[Actor],
    import_workflow: NamedDependency[ImportWorkflow],
) -> Template | Redirect:
    form = await form_of(request)
    text = form.get("file", "")
    try:
        blueprint = await import_workflow(actor, parse_file(text), status=WorkflowStatus.ACTIVE)
    except ValidationFailed as error:
        problems = [f"{d.field}: {d.message}" for d in error.details] or [error.message]
        return page(
            request, "workflow_new.html", status=400, text=text, error=problems, example=EXAMPLE
        )
    return go(request, f"/workflows/{blueprint.workflow.id}")


@get("/workflows/{workflow_id:uuid}", name="console-workflow")
async def workflow_page(
    request: Request[Any, Any, Any],
    workflow_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    get_workflow: NamedDependency[GetWorkflow],
    list_workflow_executions: NamedDependency[ListWorkflowExecutions],
) -> Template:
    workflow = await get_workflow(actor, WorkflowId(workflow_id))
    runs = await list_workflow_executions(
        actor, workflow.id, ListQuery.build(EXECUTION_QUERY, page_size=RECENT_RUNS)
    )
    defaults = workflow.definition.get("inputs", {})
    return page(
        request,
        "workflow.html",
        workflow=workflow,
        layout=lay_out(workflow.steps),
        runs=runs,
        inputs=json.dumps(defaults if isinstance(defaults, dict) else {}, indent=2),
        error=None,
    )


@post("/workflows/{workflow_id:uuid}/run", name="console-workflow-run")
async def run_workflow(
    request: Request[Any, Any, Any],
    workflow_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    start_execution: NamedDependency[StartExecution],
) -> Redirect:
    form = await form_of(request)
    try:
        inputs = json.loads(form.get("inputs") or "{}")
    except json.JSONDecodeError as error:
        raise ValidationFailed.field("inputs", f"invalid JSON: {error.msg}") from None
    if not isinstance(inputs, dict):
        raise ValidationFailed.field("inputs", "must be a JSON object")
    execution = await start_execution(
        actor, WorkflowId(workflow_id), inputs=inputs, trigger=TriggerType.MANUAL
    )
    return go(request, f"/executions/{execution.id}")


HANDLERS = [workflows_page, new_workflow_page, create_workflow, workflow_page, run_workflow]
