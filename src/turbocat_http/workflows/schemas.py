"""``POST /workflows``, ``PATCH /workflows/{id}`` (steps included) and ``POST .../execute``."""

# No ``from __future__ import annotations``: msgspec reads the annotations at run time.

from typing import Annotated, Any, NewType
from uuid import UUID

import msgspec

from turbocat_core.domain.common import StepId
from turbocat_core.domain.workflow import (
    MAX_RETRY_COUNT,
    MAX_RETRY_DELAY_MS,
    OnError,
    StepType,
    WorkflowStatus,
)
from turbocat_core.usecases.workflow_checks import (
    MAX_CONCURRENCY,
    MAX_DESCRIPTION,
    MAX_POSITION,
    MAX_STEPS,
    MAX_TIMEOUT_SECONDS,
    StepChange,
)

WorkflowFile = NewType("WorkflowFile", dict[str, Any])
"""A workflow file as JSON (docs/workflow-files.md), as export writes it: a name for the
export's envelope in the OpenAPI document (``WorkflowFileEnvelope``)."""

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
Description = Annotated[str, msgspec.Meta(max_length=MAX_DESCRIPTION)]
Tags = Annotated[list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(max_length=32)]
Cron = Annotated[str, msgspec.Meta(max_length=200)]
TimeZone = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
RunTimeout = Annotated[float, msgspec.Meta(ge=1, le=MAX_TIMEOUT_SECONDS)]
Concurrency = Annotated[int, msgspec.Meta(ge=1, le=MAX_CONCURRENCY)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]

StepKey = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
StepName = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
Position = Annotated[int, msgspec.Meta(ge=0, le=MAX_POSITION)]
DependsOn = Annotated[list[StepKey], msgspec.Meta(max_length=MAX_STEPS)]
RetryCount = Annotated[int, msgspec.Meta(ge=0, le=MAX_RETRY_COUNT)]
RetryDelay = Annotated[int, msgspec.Meta(ge=0, le=MAX_RETRY_DELAY_MS)]
StepTimeout = Annotated[float, msgspec.Meta(gt=0, le=MAX_TIMEOUT_SECONDS)]


def _sent(struct: msgspec.Struct, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields that were sent (not UNSET), by their core (snake_case) names."""
    return {
        name: value
        for name in struct.__struct_fields__
        if name not in skip and (value := getattr(struct, name)) is not msgspec.UNSET
    }


class StepIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """A step of a new workflow (or a new step in a patch, without ``id``)."""

    step_key: StepKey
    """``^[A-Za-z_][A-Za-z0-9_-]{0,63}$``, unique in the workflow."""
    step_name: StepName | None = None
    """Defaults to the step key."""
    step_type: StepType = StepType.AGENT
    agent_id: UUID | None = None
    """The agent an AGENT step runs (LOOP and PARALLEL steps name theirs in ``config``)."""
    position: Position | None = None
    """Defaults to the order of the list."""
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    inputs: dict[str, Any] = msgspec.field(default_factory=dict)
    depends_on: DependsOn = msgspec.field(default_factory=list)
    retry_count: RetryCount = 0
    retry_delay_ms: RetryDelay = 1000
    timeout_seconds: StepTimeout | None = None
    on_error: OnError = OnError.FAIL

    def change(self, index: int) -> StepChange:
        return StepChange(index=index, fields=_sent(self))


class StepPatchIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """An item of a patch's ``steps``: with ``id`` it changes that step (only the fields
    sent), without ``id`` it creates one, and ``{"id": ..., "_delete": true}`` removes one."""

    id: UUID | msgspec.UnsetType = msgspec.UNSET
    delete: bool = msgspec.field(default=False, name="_delete")
    step_key: StepKey | msgspec.UnsetType = msgspec.UNSET
    step_name: StepName | msgspec.UnsetType | None = msgspec.UNSET
    step_type: StepType | msgspec.UnsetType = msgspec.UNSET
    agent_id: UUID | msgspec.UnsetType | None = msgspec.UNSET
    position: Position | msgspec.UnsetType = msgspec.UNSET
    config: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    inputs: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    depends_on: DependsOn | msgspec.UnsetType = msgspec.UNSET
    retry_count: RetryCount | msgspec.UnsetType = msgspec.UNSET
    retry_delay_ms: RetryDelay | msgspec.UnsetType = msgspec.UNSET
    timeout_seconds: StepTimeout | msgspec.UnsetType | None = msgspec.UNSET
    on_error: OnError | msgspec.UnsetType = msgspec.UNSET

    def change(self, index: int) -> StepChange:
        step_id = None if self.id is msgspec.UNSET else StepId(self.id)
        return StepChange(
            index=index,
            step_id=step_id,
            delete=self.delete,
            fields=_sent(self, skip=("id", "delete")),
        )


class WorkflowIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """``POST /workflows``: a workflow and its steps, created together."""

    name: Name
    description: Description | None = None
    status: WorkflowStatus = WorkflowStatus.DRAFT
    definition: dict[str, Any] = msgspec.field(default_factory=dict)
    """Free-form; ``definition.inputs`` holds the default inputs of every run."""
    trigger_config: dict[str, Any] = msgspec.field(default_factory=dict)
    schedule_enabled: bool = False
    schedule_cron: Cron | None = None
    schedule_timezone: TimeZone = "UTC"
    timeout_seconds: RunTimeout = 3600
    max_concurrency: Concurrency = 8
    """Steps of one execution running at once."""
    concurrency_limit: Limit | None = None
    """Executions of this workflow running at once (null: no limit)."""
    tags: Tags = msgspec.field(default_factory=list)
    is_public: bool = False
    steps: Annotated[list[StepIn], msgspec.Meta(max_length=MAX_STEPS)] = msgspec.field(
        default_factory=list
    )

    def fields(self) -> dict[str, Any]:
        return _sent(self, skip=("steps",))

    def step_changes(self) -> list[StepChange]:
        return [step.change(index) for index, step in enumerate(self.steps)]


class WorkflowPatch(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """``PATCH /workflows/{id}``: only the fields sent change; steps not mentioned stay."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType | None = msgspec.UNSET
    status: WorkflowStatus | msgspec.UnsetType = msgspec.UNSET
    definition: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    trigger_config: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    schedule_enabled: bool | msgspec.UnsetType = msgspec.UNSET
    schedule_cron: Cron | msgspec.UnsetType | None = msgspec.UNSET
    schedule_timezone: TimeZone | msgspec.UnsetType = msgspec.UNSET
    timeout_seconds: RunTimeout | msgspec.UnsetType = msgspec.UNSET
    max_concurrency: Concurrency | msgspec.UnsetType = msgspec.UNSET
    concurrency_limit: Limit | msgspec.UnsetType | None = msgspec.UNSET
    tags: Tags | msgspec.UnsetType = msgspec.UNSET
    is_public: bool | msgspec.UnsetType = msgspec.UNSET
    steps: Annotated[list[StepPatchIn], msgspec.Meta(max_length=MAX_STEPS)] | msgspec.UnsetType = (
        msgspec.UNSET
    )

    def fields(self) -> dict[str, Any]:
        return _sent(self, skip=("steps",))

    def step_changes(self) -> list[StepChange] | None:
        if self.steps is msgspec.UNSET:
            return None
        return [step.change(index) for index, step in enumerate(self.steps)]


class ExecuteIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """``POST /workflows/{id}/execute``: inputs over the workflow's defaults, and metadata."""

    inputs: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
