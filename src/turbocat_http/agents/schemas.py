"""``POST /agents``, ``PATCH /agents/{id}``, ``POST /agents/{id}/duplicate``."""

# No ``from __future__ import annotations``: msgspec reads the annotations at run time.

from typing import Annotated, Any

import msgspec

from turbocat_core.domain.agent import AgentStatus, AgentType
from turbocat_core.domain.common import NAME_MAX
from turbocat_core.usecases.agents import DESCRIPTION_MAX, LIMITS, NewAgent


def _range(name: str) -> msgspec.Meta:
    low, high = LIMITS[name]
    return msgspec.Meta(ge=low, le=high)


Name = Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_MAX)]
Description = Annotated[str, msgspec.Meta(max_length=DESCRIPTION_MAX)]
Labels = Annotated[list[Annotated[str, msgspec.Meta(max_length=100)]], msgspec.Meta(max_length=100)]
MaxExecutionTime = Annotated[int, _range("max_execution_time")]
MaxMemoryMb = Annotated[int, _range("max_memory_mb")]
MaxConcurrentExecutions = Annotated[int, _range("max_concurrent_executions")]


class AgentCreateIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """A new agent; ``config`` follows its ``type`` (docs/agents.md) and may hold
    ``{{references}}``."""

    name: Name
    type: AgentType
    config: dict[str, Any]
    description: Description | None = None
    status: AgentStatus = AgentStatus.DRAFT
    capabilities: Labels = msgspec.field(default_factory=list)
    parameters: dict[str, Any] = msgspec.field(default_factory=dict)
    max_execution_time: MaxExecutionTime = 300
    """Seconds one run of the agent may take."""
    max_memory_mb: MaxMemoryMb = 512
    max_concurrent_executions: MaxConcurrentExecutions = 1
    tags: Labels = msgspec.field(default_factory=list)
    is_public: bool = False

    def to_new(self) -> NewAgent:
        return NewAgent(
            name=self.name,
            type=self.type,
            description=self.description,
            status=self.status,
            config=self.config,
            capabilities=self.capabilities,
            parameters=self.parameters,
            max_execution_time=self.max_execution_time,
            max_memory_mb=self.max_memory_mb,
            max_concurrent_executions=self.max_concurrent_executions,
            tags=self.tags,
            is_public=self.is_public,
        )


class AgentUpdateIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields sent change; ``config`` is checked again against the agent's type
    (which cannot change)."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType | None = msgspec.UNSET
    status: AgentStatus | msgspec.UnsetType = msgspec.UNSET
    config: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    capabilities: Labels | msgspec.UnsetType = msgspec.UNSET
    parameters: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    max_execution_time: MaxExecutionTime | msgspec.UnsetType = msgspec.UNSET
    max_memory_mb: MaxMemoryMb | msgspec.UnsetType = msgspec.UNSET
    max_concurrent_executions: MaxConcurrentExecutions | msgspec.UnsetType = msgspec.UNSET
    tags: Labels | msgspec.UnsetType = msgspec.UNSET
    is_public: bool | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> dict[str, Any]:
        """The fields that were sent, by their core names."""
        return {
            name: value
            for name in self.__struct_fields__
            if (value := getattr(self, name)) is not msgspec.UNSET
        }


class DuplicateAgentIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    name: Name | None = None
    """The copy's name (default: the source's)."""
