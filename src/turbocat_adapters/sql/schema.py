"""Every table of the SQL stores, each derived from its domain dataclass."""

from __future__ import annotations

from typing import Final

from turbocat_adapters.snapshots import steps_from_json, steps_to_json
from turbocat_adapters.sql.tables import Table
from turbocat_core.domain.agent import Agent
from turbocat_core.domain.api_key import ApiKey
from turbocat_core.domain.audit import AuditLog
from turbocat_core.domain.deployment import Deployment
from turbocat_core.domain.execution import Execution, ExecutionLog, StepRun
from turbocat_core.domain.template import Template
from turbocat_core.domain.user import User, canonical_email
from turbocat_core.domain.workflow import Workflow, WorkflowStep

USERS: Final = Table("users", User, "user", convert={"email": (canonical_email, None)})
AGENTS: Final = Table("agents", Agent, "agent")
WORKFLOWS: Final = Table("workflows", Workflow, "workflow")
STEPS: Final = Table("workflow_steps", WorkflowStep, "step")
EXECUTIONS: Final = Table(
    "executions", Execution, "execution", convert={"steps": (steps_to_json, steps_from_json)}
)
STEP_RUNS: Final = Table("step_runs", StepRun, "step run")
LOGS: Final = Table("execution_logs", ExecutionLog, "log line")
TEMPLATES: Final = Table("templates", Template, "template")
DEPLOYMENTS: Final = Table("deployments", Deployment, "deployment")
API_KEYS: Final = Table("api_keys", ApiKey, "API key")
AUDIT_LOGS: Final = Table("audit_logs", AuditLog, "audit entry")
TABLES: Final = {
    table.name: table
    for table in (
        USERS,
        AGENTS,
        WORKFLOWS,
        STEPS,
        EXECUTIONS,
        STEP_RUNS,
        LOGS,
        TEMPLATES,
        DEPLOYMENTS,
        API_KEYS,
        AUDIT_LOGS,
    )
}
