"""Templates: shareable starting points for agents, workflows and steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from turbocat_core.domain.common import Entity, JsonObject, QuerySpec, TemplateId, UserId


class TemplateType(StrEnum):
    AGENT = "AGENT"
    WORKFLOW = "WORKFLOW"
    STEP = "STEP"


@dataclass(frozen=True, slots=True, kw_only=True)
class Template(Entity):
    """``user_id`` is ``None`` for official templates; ``template_data`` is what instantiates."""

    id: TemplateId
    user_id: UserId | None
    name: str
    type: TemplateType
    category: str
    description: str | None = None
    template_data: JsonObject = field(default_factory=dict)
    is_official: bool = False
    is_public: bool = False
    usage_count: int = 0
    rating_average: float = 0.0
    rating_count: int = 0
    tags: tuple[str, ...] = ()
    deleted_at: datetime | None = None


TEMPLATE_QUERY: Final = QuerySpec(
    sortable=frozenset({"created_at", "updated_at", "name", "usage_count", "rating_average"}),
    filterable=frozenset({"category", "type", "is_official", "is_public", "user_id"}),
)
