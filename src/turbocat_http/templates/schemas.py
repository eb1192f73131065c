"""``POST /templates/{id}/instantiate`` and the answers of ``/templates``."""

# No ``from __future__ import annotations``: msgspec and Litestar read the annotations.

from typing import Annotated, Any, Literal, TypedDict

import msgspec

from turbocat_core.domain.agent import Agent
from turbocat_core.domain.common import NAME_MAX
from turbocat_core.usecases.workflows import WorkflowWithSteps


class InstantiateIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_MAX)] | None = None
    """The new agent's or workflow's name (default: the template's)."""
    customizations: dict[str, Any] | None = None
    """AGENT templates: config keys, merged over the template's config. WORKFLOW templates:
    ``{"inputs": {...}}``, merged over the file's input defaults."""


class InstantiatedOut(TypedDict):
    """What was created: an agent, or a workflow with its ``steps`` (as ``GET /workflows/{id}``
    answers)."""

    resourceType: Literal["AGENT", "WORKFLOW"]
    resource: Agent | WorkflowWithSteps


class CategoryOut(msgspec.Struct):
    category: str
    count: int
    """How many templates you can see in it."""
