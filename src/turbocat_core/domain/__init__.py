"""The domain: ten aggregates, their enums and their rules (one module per aggregate)."""

from turbocat_core.domain.access import Actor
from turbocat_core.domain.agent import Agent, AgentStatus, AgentType
from turbocat_core.domain.api_key import ApiKey
from turbocat_core.domain.audit import AuditAction, AuditLog
from turbocat_core.domain.common import (
    AgentId,
    ApiKeyId,
    AuditLogId,
    DeploymentId,
    Entity,
    ExecutionId,
    JsonObject,
    ListQuery,
    LogId,
    Page,
    QuerySpec,
    SortOrder,
    StepId,
    TemplateId,
    UserId,
    WorkflowId,
)
from turbocat_core.domain.deployment import (
    Deployment,
    DeploymentStatus,
    Environment,
    HealthStatus,
)
from turbocat_core.domain.execution import (
    Execution,
    ExecutionLog,
    ExecutionStatus,
    LogLevel,
    LogQuery,
    StepRun,
    StepStatus,
    TriggerType,
)
from turbocat_core.domain.session import Session
from turbocat_core.domain.template import Template, TemplateType
from turbocat_core.domain.user import User, UserRole
from turbocat_core.domain.workflow import OnError, StepType, Workflow, WorkflowStatus, WorkflowStep

__all__ = [
    "Actor",
    "Agent",
    "AgentId",
    "AgentStatus",
    "AgentType",
    "ApiKey",
    "ApiKeyId",
    "AuditAction",
    "AuditLog",
    "AuditLogId",
    "Deployment",
    "DeploymentId",
    "DeploymentStatus",
    "Entity",
    "Environment",
    "Execution",
    "ExecutionId",
    "ExecutionLog",
    "ExecutionStatus",
    "HealthStatus",
    "JsonObject",
    "ListQuery",
    "LogId",
    "LogLevel",
    "LogQuery",
    "OnError",
    "Page",
    "QuerySpec",
    "Session",
    "SortOrder",
    "StepId",
    "StepRun",
    "StepStatus",
    "StepType",
    "Template",
    "TemplateId",
    "TemplateType",
    "TriggerType",
    "User",
    "UserId",
    "UserRole",
    "Workflow",
    "WorkflowId",
    "WorkflowStatus",
    "WorkflowStep",
]
