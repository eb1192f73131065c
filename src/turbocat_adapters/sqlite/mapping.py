"""Mappers of users, agents and workflows: entity -> named parameters, row tuple -> entity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from turbocat_adapters.sqlite.codec import (
    js,
    parse_js,
    parse_texts,
    parse_ts,
    parse_ts_or_none,
    parse_uid,
    parse_uid_or_none,
    texts,
    ts,
    ts_or_none,
    uid,
    uid_or_none,
)
from turbocat_core.domain.agent import Agent, AgentStatus, AgentType
from turbocat_core.domain.common import (
    AgentId,
    UserId,
    WorkflowId,
)
from turbocat_core.domain.user import User, UserRole, canonical_email
from turbocat_core.domain.workflow import Workflow, WorkflowStatus

# A ``*_COLUMNS`` tuple is the order in which the repositories select a row; a mapper's
# parameters are named after the same columns.
Row = Sequence[Any]
Params = dict[str, Any]


# --- users -------------------------------------------------------------------------------

USER_COLUMNS: Final = (
    "id",
    "created_at",
    "updated_at",
    "email",
    "password_hash",
    "full_name",
    "avatar_url",
    "role",
    "is_active",
    "email_verified",
    "preferences",
    "last_login_at",
    "deleted_at",
)


def user_params(user: User) -> Params:
    return {
        "id": uid(user.id),
        "created_at": ts(user.created_at),
        "updated_at": ts(user.updated_at),
        "email": canonical_email(user.email),
        "password_hash": user.password_hash,
        "full_name": user.full_name,
        "avatar_url": user.avatar_url,
        "role": user.role,
        "is_active": user.is_active,
        "email_verified": user.email_verified,
        "preferences": js(user.preferences, "preferences"),
        "last_login_at": ts_or_none(user.last_login_at),
        "deleted_at": ts_or_none(user.deleted_at),
    }


def user_from_row(row: Row) -> User:
    (
        id_,
        created_at,
        updated_at,
        email,
        password_hash,
        full_name,
        avatar_url,
        role,
        is_active,
        email_verified,
        preferences,
        last_login_at,
        deleted_at,
    ) = row
    return User(
        id=UserId(parse_uid(id_)),
        created_at=parse_ts(created_at),
        updated_at=parse_ts(updated_at),
        email=email,
        password_hash=password_hash,
        full_name=full_name,
        avatar_url=avatar_url,
        role=UserRole(role),
        is_active=bool(is_active),
        email_verified=bool(email_verified),
        preferences=parse_js(preferences),
        last_login_at=parse_ts_or_none(last_login_at),
        deleted_at=parse_ts_or_none(deleted_at),
    )


# --- agents ------------------------------------------------------------------------------

AGENT_COLUMNS: Final = (
    "id",
    "created_at",
    "updated_at",
    "user_id",
    "name",
    "type",
    "description",
    "status",
    "config",
    "capabilities",
    "parameters",
    "max_execution_time",
    "max_memory_mb",
    "max_concurrent_executions",
    "tags",
    "is_public",
    "version",
    "parent_id",
    "total_executions",
    "successful_executions",
    "failed_executions",
    "avg_execution_time_ms",
    "deleted_at",
)


def agent_params(agent: Agent) -> Params:
    return {
        "id": uid(agent.id),
        "created_at": ts(agent.created_at),
        "updated_at": ts(agent.updated_at),
        "user_id": uid(agent.user_id),
        "name": agent.name,
        "type": agent.type,
        "description": agent.description,
        "status": agent.status,
        "config": js(agent.config, "config"),
        "capabilities": texts(agent.capabilities, "capabilities"),
        "parameters": js(agent.parameters, "parameters"),
        "max_execution_time": agent.max_execution_time,
        "max_memory_mb": agent.max_memory_mb,
        "max_concurrent_executions": agent.max_concurrent_executions,
        "tags": texts(agent.tags, "tags"),
        "is_public": agent.is_public,
        "version": agent.version,
        "parent_id": uid_or_none(agent.parent_id),
        "total_executions": agent.total_executions,
        "successful_executions": agent.successful_executions,
        "failed_executions": agent.failed_executions,
        "avg_execution_time_ms": agent.avg_execution_time_ms,
        "deleted_at": ts_or_none(agent.deleted_at),
    }


def agent_from_row(row: Row) -> Agent:
    (
        id_,
        created_at,
        updated_at,
        user_id,
        name,
        type_,
        description,
        status,
        config,
        capabilities,
        parameters,
        max_execution_time,
        max_memory_mb,
        max_concurrent_executions,
        tags,
        is_public,
        version,
        parent_id,
        total_executions,
        successful_executions,
        failed_executions,
        avg_execution_time_ms,
        deleted_at,
    ) = row
    parent = parse_uid_or_none(parent_id)
    return Agent(
        id=AgentId(parse_uid(id_)),
        created_at=parse_ts(created_at),
        updated_at=parse_ts(updated_at),
        user_id=UserId(parse_uid(user_id)),
        name=name,
        type=AgentType(type_),
        description=description,
        status=AgentStatus(status),
        config=parse_js(config),
        capabilities=parse_texts(capabilities),
        parameters=parse_js(parameters),
        max_execution_time=max_execution_time,
        max_memory_mb=max_memory_mb,
        max_concurrent_executions=max_concurrent_executions,
        tags=parse_texts(tags),
        is_public=bool(is_public),
        version=version,
        parent_id=AgentId(parent) if parent is not None else None,
        total_executions=total_executions,
        successful_executions=successful_executions,
        failed_executions=failed_executions,
        avg_execution_time_ms=avg_execution_time_ms,
        deleted_at=parse_ts_or_none(deleted_at),
    )


# --- workflows ---------------------------------------------------------------------------

WORKFLOW_COLUMNS: Final = (
    "id",
    "created_at",
    "updated_at",
    "user_id",
    "name",
    "description",
    "status",
    "definition",
    "trigger_config",
    "schedule_enabled",
    "schedule_cron",
    "schedule_timezone",
    "timeout_seconds",
    "max_concurrency",
    "concurrency_limit",
    "version",
    "parent_id",
    "tags",
    "is_public",
    "total_executions",
    "successful_executions",
    "failed_executions",
    "avg_execution_time_ms",
    "last_execution_at",
    "deleted_at",
)


def workflow_params(workflow: Workflow) -> Params:
    return {
        "id": uid(workflow.id),
        "created_at": ts(workflow.created_at),
        "updated_at": ts(workflow.updated_at),
        "user_id": uid(workflow.user_id),
        "name": workflow.name,
        "description": workflow.description,
        "status": workflow.status,
        "definition": js(workflow.definition, "definition"),
        "trigger_config": js(workflow.trigger_config, "trigger_config"),
        "schedule_enabled": workflow.schedule_enabled,
        "schedule_cron": workflow.schedule_cron,
        "schedule_timezone": workflow.schedule_timezone,
        "timeout_seconds": workflow.timeout_seconds,
        "max_concurrency": workflow.max_concurrency,
        "concurrency_limit": workflow.concurrency_limit,
        "version": workflow.version,
        "parent_id": uid_or_none(workflow.parent_id),
        "tags": texts(workflow.tags, "tags"),
        "is_public": workflow.is_public,
        "total_executions": workflow.total_executions,
        "successful_executions": workflow.successful_executions,
        "failed_executions": workflow.failed_executions,
        "avg_execution_time_ms": workflow.avg_execution_time_ms,
        "last_execution_at": ts_or_none(workflow.last_execution_at),
        "deleted_at": ts_or_none(workflow.deleted_at),
    }


def workflow_from_row(row: Row) -> Workflow:
    (
        id_,
        created_at,
        updated_at,
        user_id,
        name,
        description,
        status,
        definition,
        trigger_config,
        schedule_enabled,
        schedule_cron,
        schedule_timezone,
        timeout_seconds,
        max_concurrency,
        concurrency_limit,
        version,
        parent_id,
        tags,
        is_public,
        total_executions,
        successful_executions,
        failed_executions,
        avg_execution_time_ms,
        last_execution_at,
        deleted_at,
    ) = row
    parent = parse_uid_or_none(parent_id)
    return Workflow(
        id=WorkflowId(parse_uid(id_)),
        created_at=parse_ts(created_at),
        updated_at=parse_ts(updated_at),
        user_id=UserId(parse_uid(user_id)),
        name=name,
        description=description,
        status=WorkflowStatus(status),
        definition=parse_js(definition),
        trigger_config=parse_js(trigger_config),
        schedule_enabled=bool(schedule_enabled),
        schedule_cron=schedule_cron,
        schedule_timezone=schedule_timezone,
        timeout_seconds=timeout_seconds,
        max_concurrency=max_concurrency,
        concurrency_limit=concurrency_limit,
        version=version,
        parent_id=WorkflowId(parent) if parent is not None else None,
        tags=parse_texts(tags),
        is_public=bool(is_public),
        total_executions=total_executions,
        successful_executions=successful_executions,
        failed_executions=failed_executions,
        avg_execution_time_ms=avg_execution_time_ms,
        last_execution_at=parse_ts_or_none(last_execution_at),
        deleted_at=parse_ts_or_none(deleted_at),
    )
