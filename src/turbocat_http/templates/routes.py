"""``GET /templates``, ``GET /templates/categories``, ``GET /templates/{id}`` (no account
needed for public templates) and ``POST /templates/{id}/instantiate`` (scope
``templates:write``, plus ``agents:write`` or ``workflows:write`` for what it creates)."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

from typing import Annotated, Any
from uuid import UUID

from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from turbocat_adapters.wire import to_wire
from turbocat_core.domain.access import Actor
from turbocat_core.domain.common import TemplateId
from turbocat_core.domain.template import TEMPLATE_QUERY, Template, TemplateType
from turbocat_core.usecases.templates import (
    GetTemplate,
    Instantiated,
    InstantiateTemplate,
    ListTemplates,
    TemplateCategories,
)
from turbocat_core.usecases.workflows import WorkflowWithSteps
from turbocat_http.auth.access import optional, scoped
from turbocat_http.auth.security import ACTOR, OPTIONAL_ACTOR
from turbocat_http.dependencies import provide
from turbocat_http.envelope import ListParams, list_query, ok, paged
from turbocat_http.openapi import error_responses
from turbocat_http.schemas import Envelope, PageEnvelope
from turbocat_http.templates.schemas import CategoryOut, InstantiatedOut, InstantiateIn

SCOPE = "templates"


@get("/", **optional(SCOPE, "read"))
async def list_templates(
    viewer: NamedDependency[Actor | None],
    listing: NamedDependency[ListParams],
    list_templates: NamedDependency[ListTemplates],
    category: Annotated[str | None, QueryParameter(max_length=255)] = None,
    template_type: Annotated[TemplateType | None, QueryParameter(name="type")] = None,
    is_official: Annotated[bool | None, QueryParameter(name="isOfficial")] = None,
) -> PageEnvelope[Template]:
    """Public templates (official ones among them); signed in, also your private ones."""
    filters = {"category": category, "type": template_type, "is_official": is_official}
    query = list_query(listing, TEMPLATE_QUERY, filters=filters)
    return paged(await list_templates(viewer, query))


@get("/categories", **optional(SCOPE, "read"))
async def template_categories(
    viewer: NamedDependency[Actor | None],
    template_categories: NamedDependency[TemplateCategories],
) -> Envelope[list[CategoryOut]]:
    """Each category of the templates you can see, with how many, by name."""
    found = await template_categories(viewer)
    return ok([CategoryOut(category=name, count=count) for name, count in found])


@get("/{template_id:uuid}", **optional(SCOPE, "read"))
async def get_template(
    template_id: FromPath[UUID],
    viewer: NamedDependency[Actor | None],
    get_template: NamedDependency[GetTemplate],
) -> Envelope[Template]:
    """A public template, or one of your own."""
    return ok(await get_template(viewer, TemplateId(template_id)))


def _created(made: Instantiated) -> dict[str, Any]:
    resource: Any = made.resource
    if made.resource_type is TemplateType.WORKFLOW:
        resource = WorkflowWithSteps.of(made.workflow, made.steps)  # as GET /workflows/{id}
    return {"resourceType": made.resource_type.value, "resource": to_wire(resource)}


@post(
    "/{template_id:uuid}/instantiate",
    status_code=HTTP_201_CREATED,
    **scoped(SCOPE, "write"),
    responses=error_responses(409),
)
async def instantiate_template(
    template_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    instantiate_template: NamedDependency[InstantiateTemplate],
    data: JSONBody[InstantiateIn | None] = None,
) -> Envelope[InstantiatedOut]:
    """Create a DRAFT agent (AGENT template) or a DRAFT workflow with its agents and steps
    (WORKFLOW template) for you, and count the use. A STEP template is 409 INVALID_STATE:
    clients insert those into workflows themselves."""
    body = data or InstantiateIn()
    made = await instantiate_template(
        actor, TemplateId(template_id), name=body.name, customizations=body.customizations
    )
    return ok(_created(made))


router = Router(
    "/templates",
    route_handlers=[list_templates, template_categories, get_template, instantiate_template],
    dependencies={
        "actor": ACTOR,
        "viewer": OPTIONAL_ACTOR,
        **provide("list_templates", "template_categories", "get_template", "instantiate_template"),
    },
    tags=["templates"],
)
