"""An execution's pinned steps as JSON (stored in one column by the SQL stores), and back."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from turbocat_core.domain.common import AgentId, StepId, WorkflowId
from turbocat_core.domain.workflow import OnError, StepType, WorkflowStep


def steps_to_json(steps: Iterable[WorkflowStep]) -> list[dict[str, Any]]:
    """JSON-ready dicts (ids and times as text); user data (config, inputs) as it is."""
    return [
        {
            "id": str(step.id),
            "createdAt": step.created_at.isoformat(),
            "updatedAt": step.updated_at.isoformat(),
            "workflowId": str(step.workflow_id),
            "stepKey": step.step_key,
            "stepName": step.step_name,
            "stepType": step.step_type.value,
            "agentId": str(step.agent_id) if step.agent_id is not None else None,
            "position": step.position,
            "config": step.config,
            "inputs": step.inputs,
            "dependsOn": list(step.depends_on),
            "retryCount": step.retry_count,
            "retryDelayMs": step.retry_delay_ms,
            "timeoutSeconds": step.timeout_seconds,
            "onError": step.on_error.value,
        }
        for step in steps
    ]


def steps_from_json(data: Iterable[dict[str, Any]]) -> tuple[WorkflowStep, ...]:
    """The inverse of :func:`steps_to_json`."""
    return tuple(
        WorkflowStep(
            id=StepId(UUID(item["id"])),
            created_at=datetime.fromisoformat(item["createdAt"]),
            updated_at=datetime.fromisoformat(item["updatedAt"]),
            workflow_id=WorkflowId(UUID(item["workflowId"])),
            step_key=item["stepKey"],
            step_name=item["stepName"],
            step_type=StepType(item["stepType"]),
            agent_id=AgentId(UUID(item["agentId"])) if item["agentId"] else None,
            position=item["position"],
            config=item["config"],
            inputs=item["inputs"],
            depends_on=tuple(item["dependsOn"]),
            retry_count=item["retryCount"],
            retry_delay_ms=item["retryDelayMs"],
            timeout_seconds=item["timeoutSeconds"],
            on_error=OnError(item["onError"]),
        )
        for item in data
    )
