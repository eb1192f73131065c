"""Small builders of valid entities for the contract suites (fresh uuid4 ids, aware UTC times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from turbocat_core.domain.agent import Agent, AgentType
from turbocat_core.domain.api_key import ApiKey
from turbocat_core.domain.audit import AuditLog
from turbocat_core.domain.common import (
    AgentId,
    ApiKeyId,
    AuditLogId,
    DeploymentId,
    ExecutionId,
    LogId,
    StepId,
    TemplateId,
    UserId,
    WorkflowId,
)
from turbocat_core.domain.deployment import Deployment
from turbocat_core.domain.execution import (
    Execution,
    ExecutionLog,
    LogLevel,
    StepRun,
    StepStatus,
)
from turbocat_core.domain.session import Session
from turbocat_core.domain.template import Template, TemplateType
from turbocat_core.domain.user import User
from turbocat_core.domain.workflow import StepType, Workflow, WorkflowStep

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """``T0`` plus some seconds: distinct, ordered timestamps."""
    return T0 + timedelta(seconds=seconds)


def user(**fields: Any) -> User:
    values: dict[str, Any] = {
        "id": UserId(uuid4()),
        "created_at": T0,
        "updated_at": T0,
        "email": f"user-{uuid4().hex[:10]}@example.com",
        "password_hash": "$2b$12$hash",
        "full_name": "Ada Lovelace",
        "preferences": {"theme": "dark", "alerts": ["email"]},
    }
    values.update(fields)
    return User(**values)


def agent(owner: UUID | None = None, **fields: Any) -> Agent:
    values: dict[str, Any] = {
        "id": AgentId(uuid4()),
        "created_at": T0,
        "updated_at": T0,
        "user_id": owner or UserId(uuid4()),
        "name": "fetch prices",
        "type": AgentType.API,
        "description": "calls the prices API",
        "config": {"url": "https://example.com", "headers": {"a": "b"}, "retry": [1, 2]},
        "parameters": {"limit": 10},
        "capabilities": ("http",),
        "tags": ("finance",),
    }
    values.update(fields)
    return Agent(**values)


def workflow(owner: UUID | None = None, **fields: Any) -> Workflow:
    values: dict[str, Any] = {
        "id": WorkflowId(uuid4()),
        "created_at": T0,
        "updated_at": T0,
        "user_id": owner or UserId(uuid4()),
        "name": "nightly report",
        "description": "builds the report",
        "definition": {"nodes": [{"id": "a"}]},
        "trigger_config": {"cron": "0 3 * * *"},
        "tags": ("reports",),
    }
    values.update(fields)
    return Workflow(**values)


def step(workflow_id: UUID, key: str = "fetch", **fields: Any) -> WorkflowStep:
    values: dict[str, Any] = {
        "id": StepId(uuid4()),
        "created_at": T0,
        "updated_at": T0,
        "workflow_id": workflow_id,
        "step_key": key,
        "step_name": key,
        "step_type": StepType.AGENT,
        "agent_id": AgentId(uuid4()),
        "config": {"x": {"y": [1]}},
        "inputs": {"v": "{{inputs.v}}"},
    }
    values.update(fields)
    return WorkflowStep(**values)


def execution(
    workflow_id: UUID | None = None, owner: UUID | None = None, **fields: Any
) -> Execution:
    flow = WorkflowId(workflow_id or uuid4())
    values: dict[str, Any] = {
        "id": ExecutionId(uuid4()),
        "created_at": T0,
        "updated_at": T0,
        "workflow_id": flow,
        "user_id": owner or UserId(uuid4()),
        "input_data": {"v": [1, 2, {"deep": True}]},
        "trigger_data": {"source": "test"},
        "steps": (step(flow, "a"), step(flow, "b", depends_on=("a",))),
        "steps_total": 2,
    }
    values.update(fields)
    return Execution(**values)


def step_run(execution_id: UUID, key: str = "a", **fields: Any) -> StepRun:
    values: dict[str, Any] = {
        "id": uuid4(),
        "created_at": T0,
        "updated_at": T0,
        "execution_id": execution_id,
        "step_key": key,
        "step_id": StepId(uuid4()),
        "status": StepStatus.RUNNING,
        "attempt": 1,
    }
    values.update(fields)
    return StepRun(**values)


def log_line(execution_id: UUID, message: str = "hello", **fields: Any) -> ExecutionLog:
    values: dict[str, Any] = {
        "id": LogId(uuid4()),
        "created_at": T0,
        "updated_at": T0,
        "execution_id": execution_id,
        "level": LogLevel.INFO,
        "message": message,
        "metadata": {"k": [1, {"n": 2}]},
    }
    values.update(fields)
    return ExecutionLog(**values)


def template(owner: UUID | None = None, **fields: Any) -> Template:
    values: dict[str, Any] = {
        "id": TemplateId(uuid4()),
        "created_at": T0,
        "updated_at": T0,
        "user_id": owner,
        "name": "slack digest",
        "type": TemplateType.WORKFLOW,
        "category": "messaging",
        "description": "posts a digest",
        "template_data": {"steps": [{"key": "a"}]},
        "is_public": True,
        "tags": ("slack",),
    }
    values.update(fields)
    return Template(**values)


def deployment(owner: UUID | None = None, **fields: Any) -> Deployment:
    values: dict[str, Any] = {
        "id": DeploymentId(uuid4()),
        "created_at": T0,
        "updated_at": T0,
        "user_id": owner or UserId(uuid4()),
        "name": "prod report",
        "workflow_id": WorkflowId(uuid4()),
        "config": {"replicas": 1},
        "environment_variables": {"TOKEN": "v1.ciphertext"},
        "webhook_secret": "v1.webhook-ciphertext",
    }
    values.update(fields)
    return Deployment(**values)


def api_key(owner: UUID | None = None, **fields: Any) -> ApiKey:
    values: dict[str, Any] = {
        "id": ApiKeyId(uuid4()),
        "created_at": T0,
        "updated_at": T0,
        "user_id": owner or UserId(uuid4()),
        "name": "ci key",
        "key_prefix": "tck_abcdefgh",
        "key_hash": uuid4().hex + uuid4().hex,
    }
    values.update(fields)
    return ApiKey(**values)


def audit(owner: UUID | None = None, **fields: Any) -> AuditLog:
    values: dict[str, Any] = {
        "id": AuditLogId(uuid4()),
        "created_at": T0,
        "updated_at": T0,
        "user_id": owner,
        "action": "auth.login",
        "resource_type": "user",
        "resource_id": str(owner) if owner else None,
        "changes": {"before": {"a": 1}},
        "metadata": {"ip": ["127.0.0.1"]},
    }
    values.update(fields)
    return AuditLog(**values)


def session(owner: UUID | None = None, **fields: Any) -> Session:
    values: dict[str, Any] = {
        "id": uuid4(),
        "user_id": owner or UserId(uuid4()),
        "refresh_hash": uuid4().hex,
        "created_at": T0,
        "expires_at": at(3600),
    }
    values.update(fields)
    return Session(**values)
