"""Agents: the six types, their lifecycle, versions and run counters."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Final

from turbocat_core.domain.common import AgentId, Entity, JsonObject, QuerySpec, UserId


class AgentType(StrEnum):
    CODE = "CODE"
    API = "API"
    LLM = "LLM"
    DATA = "DATA"
    WORKFLOW = "WORKFLOW"
    FUNCTION = "FUNCTION"
    """A Python callable registered in the running process (``agents.function_agent``)."""


class AgentStatus(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    ARCHIVED = "ARCHIVED"


RUNNABLE_AGENT_STATUSES: Final = frozenset({AgentStatus.DRAFT, AgentStatus.ACTIVE})
"""Workflows may run DRAFT agents (so they can be tried) but not INACTIVE or ARCHIVED ones."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Agent(Entity):
    """A unit of work of one ``type``; ``config`` follows that type's shape (docs/agents.md)."""

    id: AgentId
    user_id: UserId
    name: str
    type: AgentType
    description: str | None = None
    status: AgentStatus = AgentStatus.DRAFT
    config: JsonObject = field(default_factory=dict)
    capabilities: tuple[str, ...] = ()
    parameters: JsonObject = field(default_factory=dict)
    max_execution_time: int = 300
    max_memory_mb: int = 512
    max_concurrent_executions: int = 1
    tags: tuple[str, ...] = ()
    is_public: bool = False
    version: int = 1
    parent_id: AgentId | None = None
    total_executions: int = 0
    successful_executions: int = 0
    failed_executions: int = 0
    avg_execution_time_ms: float = 0.0
    deleted_at: datetime | None = None

    @property
    def root_id(self) -> AgentId:
        """The first agent of this version tree (itself when it has no parent)."""
        return self.parent_id or self.id

    def with_runs(self, succeeded: int, failed: int, total_ms: float, now: datetime) -> Agent:
        """Counters after ``succeeded + failed`` more runs that took ``total_ms`` in all."""
        total, avg = add_runs(
            self.total_executions, self.avg_execution_time_ms, succeeded + failed, total_ms
        )
        return replace(
            self,
            total_executions=total,
            successful_executions=self.successful_executions + succeeded,
            failed_executions=self.failed_executions + failed,
            avg_execution_time_ms=avg,
            updated_at=now,
        )


AGENT_QUERY: Final = QuerySpec(
    sortable=frozenset(
        {"created_at", "updated_at", "name", "type", "status", "version", "total_executions"}
    ),
    filterable=frozenset({"type", "status", "is_public", "user_id"}),
)


def add_runs(count: int, average: float, more: int, more_total_ms: float) -> tuple[int, float]:
    """A running mean: ``(count, average)`` after ``more`` runs totalling ``more_total_ms``."""
    total = count + more
    if total == 0:
        return 0, 0.0
    return total, (average * count + more_total_ms) / total
