"""Agents and workflows: rows, version trees and run counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from psycopg.rows import DictRow

from turbocat_adapters.postgres.mapping import jsonb, strings
from turbocat_adapters.postgres.querying import Listing
from turbocat_adapters.postgres.repositories.base import EntityRepository
from turbocat_core.domain.agent import AGENT_QUERY, Agent, AgentStatus, AgentType
from turbocat_core.domain.common import AgentId, WorkflowId
from turbocat_core.domain.workflow import WORKFLOW_QUERY, Workflow, WorkflowStatus

# --- agents -------------------------------------------------------------------------------

_AGENT_COLUMNS: Final = """
    user_id = %(user_id)s, name = %(name)s, type = %(type)s, description = %(description)s,
    status = %(status)s, config = %(config)s, capabilities = %(capabilities)s,
    parameters = %(parameters)s, max_execution_time = %(max_execution_time)s,
    max_memory_mb = %(max_memory_mb)s,
    max_concurrent_executions = %(max_concurrent_executions)s, tags = %(tags)s,
    is_public = %(is_public)s, version = %(version)s, parent_id = %(parent_id)s,
    total_executions = %(total_executions)s,
    successful_executions = %(successful_executions)s,
    failed_executions = %(failed_executions)s,
    avg_execution_time_ms = %(avg_execution_time_ms)s, deleted_at = %(deleted_at)s,
    created_at = %(created_at)s, updated_at = %(updated_at)s"""
INSERT_AGENT: Final = """
INSERT INTO agents (
    id, user_id, name, type, description, status, config, capabilities, parameters,
    max_execution_time, max_memory_mb, max_concurrent_executions, tags, is_public, version,
    parent_id, total_executions, successful_executions, failed_executions,
    avg_execution_time_ms, deleted_at, created_at, updated_at
) VALUES (
    %(id)s, %(user_id)s, %(name)s, %(type)s, %(description)s, %(status)s, %(config)s,
    %(capabilities)s, %(parameters)s, %(max_execution_time)s, %(max_memory_mb)s,
    %(max_concurrent_executions)s, %(tags)s, %(is_public)s, %(version)s, %(parent_id)s,
    %(total_executions)s, %(successful_executions)s, %(failed_executions)s,
    %(avg_execution_time_ms)s, %(deleted_at)s, %(created_at)s, %(updated_at)s
)"""
GET_AGENT: Final = "SELECT * FROM agents WHERE id = %(id)s AND deleted_at IS NULL"
UPDATE_AGENT: Final = (
    "UPDATE agents SET" + _AGENT_COLUMNS + " WHERE id = %(id)s AND deleted_at IS NULL"
)
AGENT_VERSIONS: Final = """
SELECT * FROM agents
WHERE (id = %(root)s OR parent_id = %(root)s) AND deleted_at IS NULL
ORDER BY version DESC, id ASC"""
# The running mean of Agent.with_runs / add_runs, in one statement on the stored row (SET
# expressions all read the row as it was), so concurrent transactions never lose a run.
RECORD_AGENT_RUNS: Final = """
UPDATE agents SET
    avg_execution_time_ms = CASE WHEN total_executions + %(runs)s = 0 THEN 0
        ELSE (avg_execution_time_ms * total_executions + %(total_ms)s)
            / (total_executions + %(runs)s) END,
    total_executions = total_executions + %(runs)s,
    successful_executions = successful_executions + %(succeeded)s,
    failed_executions = failed_executions + %(failed)s,
    updated_at = %(now)s
WHERE id = %(id)s AND deleted_at IS NULL"""


def agent_params(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "user_id": agent.user_id,
        "name": agent.name,
        "type": agent.type.value,
        "description": agent.description,
        "status": agent.status.value,
        "config": jsonb(agent.config),
        "capabilities": list(agent.capabilities),
        "parameters": jsonb(agent.parameters),
        "max_execution_time": agent.max_execution_time,
        "max_memory_mb": agent.max_memory_mb,
        "max_concurrent_executions": agent.max_concurrent_executions,
        "tags": list(agent.tags),
        "is_public": agent.is_public,
        "version": agent.version,
        "parent_id": agent.parent_id,
        "total_executions": agent.total_executions,
        "successful_executions": agent.successful_executions,
        "failed_executions": agent.failed_executions,
        "avg_execution_time_ms": agent.avg_execution_time_ms,
        "deleted_at": agent.deleted_at,
        "created_at": agent.created_at,
        "updated_at": agent.updated_at,
    }


def agent_from_row(row: DictRow) -> Agent:
    return Agent(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        type=AgentType(row["type"]),
        description=row["description"],
        status=AgentStatus(row["status"]),
        config=row["config"],
        capabilities=strings(row["capabilities"]),
        parameters=row["parameters"],
        max_execution_time=row["max_execution_time"],
        max_memory_mb=row["max_memory_mb"],
        max_concurrent_executions=row["max_concurrent_executions"],
        tags=strings(row["tags"]),
        is_public=row["is_public"],
        version=row["version"],
        parent_id=row["parent_id"],
        total_executions=row["total_executions"],
        successful_executions=row["successful_executions"],
        failed_executions=row["failed_executions"],
        avg_execution_time_ms=row["avg_execution_time_ms"],
        deleted_at=row["deleted_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class PostgresAgentRepository(EntityRepository[Agent, AgentId]):
    __slots__ = ()
    label = "agent"
    listing = Listing(
        "agents",
        AGENT_QUERY,
        has_public=True,
        text_columns=frozenset({"name", "type", "status"}),
    )
    insert_sql = INSERT_AGENT
    get_sql = GET_AGENT
    update_sql = UPDATE_AGENT
    to_params = staticmethod(agent_params)
    from_row = staticmethod(agent_from_row)

    async def versions(self, root_id: AgentId) -> list[Agent]:
        return await self._rows(AGENT_VERSIONS, {"root": root_id})

    async def record_runs(
        self, agent_id: AgentId, *, succeeded: int, failed: int, total_ms: float, now: datetime
    ) -> None:
        session = self._session
        session.require()
        if not succeeded and not failed:
            return
        params = {
            "id": agent_id,
            "runs": succeeded + failed,
            "succeeded": succeeded,
            "failed": failed,
            "total_ms": float(total_ms),
            "now": now,
        }
        await session.write(RECORD_AGENT_RUNS, params)


# --- workflows ----------------------------------------------------------------------------

INSERT_WORKFLOW: Final = """
INSERT INTO workflows (
    id, user_id, name, description, status, definition, trigger_config, schedule_enabled,
    schedule_cron, schedule_timezone, timeout_seconds, max_concurrency, concurrency_limit,
    version, parent_id, tags, is_public, total_executions, successful_executions,
    failed_executions, avg_execution_time_ms, last_execution_at, deleted_at, created_at,
    updated_at
) VALUES (
    %(id)s, %(user_id)s, %(name)s, %(description)s, %(status)s, %(definition)s,
    %(trigger_config)s, %(schedule_enabled)s, %(schedule_cron)s, %(schedule_timezone)s,
    %(timeout_seconds)s, %(max_concurrency)s, %(concurrency_limit)s, %(version)s,
    %(parent_id)s, %(tags)s, %(is_public)s, %(total_executions)s,
    %(successful_executions)s, %(failed_executions)s, %(avg_execution_time_ms)s,
    %(last_execution_at)s, %(deleted_at)s, %(created_at)s, %(updated_at)s
)"""
GET_WORKFLOW: Final = "SELECT * FROM workflows WHERE id = %(id)s AND deleted_at IS NULL"
UPDATE_WORKFLOW: Final = """
UPDATE workflows SET
    user_id = %(user_id)s, name = %(name)s, description = %(description)s,
    status = %(status)s, definition = %(definition)s, trigger_config = %(trigger_config)s,
    schedule_enabled = %(schedule_enabled)s, schedule_cron = %(schedule_cron)s,
    schedule_timezone = %(schedule_timezone)s, timeout_seconds = %(timeout_seconds)s,
    max_concurrency = %(max_concurrency)s, concurrency_limit = %(concurrency_limit)s,
    version = %(version)s, parent_id = %(parent_id)s, tags = %(tags)s,
    is_public = %(is_public)s, total_executions = %(total_executions)s,
    successful_executions = %(successful_executions)s,
    failed_executions = %(failed_executions)s,
    avg_execution_time_ms = %(avg_execution_time_ms)s,
    last_execution_at = %(last_execution_at)s, deleted_at = %(deleted_at)s,
    created_at = %(created_at)s, updated_at = %(updated_at)s
WHERE id = %(id)s AND deleted_at IS NULL"""
WORKFLOW_VERSIONS: Final = """
SELECT * FROM workflows
WHERE (id = %(root)s OR parent_id = %(root)s) AND deleted_at IS NULL
ORDER BY version DESC, id ASC"""
# Workflow.with_run in one statement (see RECORD_AGENT_RUNS).
RECORD_WORKFLOW_RUN: Final = """
UPDATE workflows SET
    avg_execution_time_ms =
        (avg_execution_time_ms * total_executions + %(duration_ms)s) / (total_executions + 1),
    total_executions = total_executions + 1,
    successful_executions = successful_executions + %(succeeded)s,
    failed_executions = failed_executions + %(failed)s,
    last_execution_at = %(now)s,
    updated_at = %(now)s
WHERE id = %(id)s AND deleted_at IS NULL"""


def workflow_params(flow: Workflow) -> dict[str, Any]:
    return {
        "id": flow.id,
        "user_id": flow.user_id,
        "name": flow.name,
        "description": flow.description,
        "status": flow.status.value,
        "definition": jsonb(flow.definition),
        "trigger_config": jsonb(flow.trigger_config),
        "schedule_enabled": flow.schedule_enabled,
        "schedule_cron": flow.schedule_cron,
        "schedule_timezone": flow.schedule_timezone,
        "timeout_seconds": flow.timeout_seconds,
        "max_concurrency": flow.max_concurrency,
        "concurrency_limit": flow.concurrency_limit,
        "version": flow.version,
        "parent_id": flow.parent_id,
        "tags": list(flow.tags),
        "is_public": flow.is_public,
        "total_executions": flow.total_executions,
        "successful_executions": flow.successful_executions,
        "failed_executions": flow.failed_executions,
        "avg_execution_time_ms": flow.avg_execution_time_ms,
        "last_execution_at": flow.last_execution_at,
        "deleted_at": flow.deleted_at,
        "created_at": flow.created_at,
        "updated_at": flow.updated_at,
    }


def workflow_from_row(row: DictRow) -> Workflow:
    return Workflow(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        description=row["description"],
        status=WorkflowStatus(row["status"]),
        definition=row["definition"],
        trigger_config=row["trigger_config"],
        schedule_enabled=row["schedule_enabled"],
        schedule_cron=row["schedule_cron"],
        schedule_timezone=row["schedule_timezone"],
        timeout_seconds=row["timeout_seconds"],
        max_concurrency=row["max_concurrency"],
        concurrency_limit=row["concurrency_limit"],
        version=row["version"],
        parent_id=row["parent_id"],
        tags=strings(row["tags"]),
        is_public=row["is_public"],
        total_executions=row["total_executions"],
        successful_executions=row["successful_executions"],
        failed_executions=row["failed_executions"],
        avg_execution_time_ms=row["avg_execution_time_ms"],
        last_execution_at=row["last_execution_at"],
        deleted_at=row["deleted_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class PostgresWorkflowRepository(EntityRepository[Workflow, WorkflowId]):
    __slots__ = ()
    label = "workflow"
    listing = Listing(
        "workflows",
        WORKFLOW_QUERY,
        has_public=True,
        text_columns=frozenset({"name", "status"}),
    )
    insert_sql = INSERT_WORKFLOW
    get_sql = GET_WORKFLOW
    update_sql = UPDATE_WORKFLOW
    to_params = staticmethod(workflow_params)
    from_row = staticmethod(workflow_from_row)

    async def versions(self, root_id: WorkflowId) -> list[Workflow]:
        return await self._rows(WORKFLOW_VERSIONS, {"root": root_id})

    async def record_run(
        self, workflow_id: WorkflowId, *, succeeded: bool, duration_ms: float, now: datetime
    ) -> None:
        params = {
            "id": workflow_id,
            "succeeded": int(succeeded),
            "failed": int(not succeeded),
            "duration_ms": float(duration_ms),
            "now": now,
        }
        await self._session.write(RECORD_WORKFLOW_RUN, params)
