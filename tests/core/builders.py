"""Small builders of domain objects for core tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from turbocat_core.domain.common import StepId, WorkflowId
from turbocat_core.domain.workflow import OnError, StepType, WorkflowStep

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WORKFLOW = WorkflowId(uuid4())


def step(
    key: str,
    depends_on: Sequence[str] = (),
    *,
    step_type: StepType = StepType.AGENT,
    position: int = 0,
    agent_id: Any = None,
    config: dict[str, Any] | None = None,
    inputs: dict[str, Any] | None = None,
    retry_count: int = 0,
    retry_delay_ms: int = 1000,
    timeout_seconds: float | None = None,
    on_error: OnError = OnError.FAIL,
) -> WorkflowStep:
    return WorkflowStep(
        id=StepId(uuid4()),
        created_at=T0,
        updated_at=T0,
        workflow_id=WORKFLOW,
        step_key=key,
        step_name=key,
        step_type=step_type,
        agent_id=agent_id
        if agent_id is not None
        else (uuid4() if step_type is StepType.AGENT else None),
        position=position,
        config=config or {},
        inputs=inputs or {},
        depends_on=tuple(depends_on),
        retry_count=retry_count,
        retry_delay_ms=retry_delay_ms,
        timeout_seconds=timeout_seconds,
        on_error=on_error,
    )
