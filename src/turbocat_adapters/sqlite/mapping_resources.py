"""Explicit mappers of templates, deployments, API keys and audit entries (see ``mapping``)."""

from __future__ import annotations

from typing import Final

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
from turbocat_adapters.sqlite.mapping import Params, Row
from turbocat_core.domain.api_key import ApiKey
from turbocat_core.domain.audit import AuditLog
from turbocat_core.domain.common import (
    AgentId,
    ApiKeyId,
    AuditLogId,
    DeploymentId,
    TemplateId,
    UserId,
    WorkflowId,
)
from turbocat_core.domain.deployment import Deployment, DeploymentStatus, Environment, HealthStatus
from turbocat_core.domain.template import Template, TemplateType

# --- templates ---------------------------------------------------------------------------

TEMPLATE_COLUMNS: Final = (
    "id",
    "created_at",
    "updated_at",
    "user_id",
    "name",
    "type",
    "category",
    "description",
    "template_data",
    "is_official",
    "is_public",
    "usage_count",
    "rating_average",
    "rating_count",
    "tags",
    "deleted_at",
)


def template_params(template: Template) -> Params:
    return {
        "id": uid(template.id),
        "created_at": ts(template.created_at),
        "updated_at": ts(template.updated_at),
        "user_id": uid_or_none(template.user_id),
        "name": template.name,
        "type": template.type,
        "category": template.category,
        "description": template.description,
        "template_data": js(template.template_data, "template_data"),
        "is_official": template.is_official,
        "is_public": template.is_public,
        "usage_count": template.usage_count,
        "rating_average": template.rating_average,
        "rating_count": template.rating_count,
        "tags": texts(template.tags, "tags"),
        "deleted_at": ts_or_none(template.deleted_at),
    }


def template_from_row(row: Row) -> Template:
    (
        id_,
        created_at,
        updated_at,
        user_id,
        name,
        type_,
        category,
        description,
        template_data,
        is_official,
        is_public,
        usage_count,
        rating_average,
        rating_count,
        tags,
        deleted_at,
    ) = row
    owner = parse_uid_or_none(user_id)
    return Template(
        id=TemplateId(parse_uid(id_)),
        created_at=parse_ts(created_at),
        updated_at=parse_ts(updated_at),
        user_id=UserId(owner) if owner is not None else None,
        name=name,
        type=TemplateType(type_),
        category=category,
        description=description,
        template_data=parse_js(template_data),
        is_official=bool(is_official),
        is_public=bool(is_public),
        usage_count=usage_count,
        rating_average=rating_average,
        rating_count=rating_count,
        tags=parse_texts(tags),
        deleted_at=parse_ts_or_none(deleted_at),
    )


# --- deployments -------------------------------------------------------------------------

DEPLOYMENT_COLUMNS: Final = (
    "id",
    "created_at",
    "updated_at",
    "user_id",
    "name",
    "workflow_id",
    "agent_id",
    "description",
    "environment",
    "status",
    "config",
    "environment_variables",
    "health_status",
    "last_health_check_at",
    "allocated_memory_mb",
    "allocated_cpu",
    "started_at",
    "stopped_at",
    "deleted_at",
    "webhook_secret",
)


def deployment_params(deployment: Deployment) -> Params:
    return {
        "id": uid(deployment.id),
        "created_at": ts(deployment.created_at),
        "updated_at": ts(deployment.updated_at),
        "user_id": uid(deployment.user_id),
        "name": deployment.name,
        "workflow_id": uid_or_none(deployment.workflow_id),
        "agent_id": uid_or_none(deployment.agent_id),
        "description": deployment.description,
        "environment": deployment.environment,
        "status": deployment.status,
        "config": js(deployment.config, "config"),
        "environment_variables": js(deployment.environment_variables, "environment_variables"),
        "health_status": deployment.health_status,
        "last_health_check_at": ts_or_none(deployment.last_health_check_at),
        "allocated_memory_mb": deployment.allocated_memory_mb,
        "allocated_cpu": deployment.allocated_cpu,
        "started_at": ts_or_none(deployment.started_at),
        "stopped_at": ts_or_none(deployment.stopped_at),
        "deleted_at": ts_or_none(deployment.deleted_at),
        "webhook_secret": deployment.webhook_secret,
    }


def deployment_from_row(row: Row) -> Deployment:
    (
        id_,
        created_at,
        updated_at,
        user_id,
        name,
        workflow_id,
        agent_id,
        description,
        environment,
        status,
        config,
        environment_variables,
        health_status,
        last_health_check_at,
        allocated_memory_mb,
        allocated_cpu,
        started_at,
        stopped_at,
        deleted_at,
        webhook_secret,
    ) = row
    flow = parse_uid_or_none(workflow_id)
    agent = parse_uid_or_none(agent_id)
    return Deployment(
        id=DeploymentId(parse_uid(id_)),
        created_at=parse_ts(created_at),
        updated_at=parse_ts(updated_at),
        user_id=UserId(parse_uid(user_id)),
        name=name,
        workflow_id=WorkflowId(flow) if flow is not None else None,
        agent_id=AgentId(agent) if agent is not None else None,
        description=description,
        environment=Environment(environment),
        status=DeploymentStatus(status),
        config=parse_js(config),
        environment_variables=parse_js(environment_variables),
        health_status=HealthStatus(health_status),
        last_health_check_at=parse_ts_or_none(last_health_check_at),
        allocated_memory_mb=allocated_memory_mb,
        allocated_cpu=allocated_cpu,
        started_at=parse_ts_or_none(started_at),
        stopped_at=parse_ts_or_none(stopped_at),
        deleted_at=parse_ts_or_none(deleted_at),
        webhook_secret=webhook_secret,
    )


# --- API keys ----------------------------------------------------------------------------

API_KEY_COLUMNS: Final = (
    "id",
    "created_at",
    "updated_at",
    "user_id",
    "name",
    "key_prefix",
    "key_hash",
    "scopes",
    "rate_limit_per_minute",
    "expires_at",
    "last_used_at",
    "usage_count",
    "is_active",
    "deleted_at",
)


def api_key_params(key: ApiKey) -> Params:
    return {
        "id": uid(key.id),
        "created_at": ts(key.created_at),
        "updated_at": ts(key.updated_at),
        "user_id": uid(key.user_id),
        "name": key.name,
        "key_prefix": key.key_prefix,
        "key_hash": key.key_hash,
        "scopes": texts(key.scopes, "scopes"),
        "rate_limit_per_minute": key.rate_limit_per_minute,
        "expires_at": ts_or_none(key.expires_at),
        "last_used_at": ts_or_none(key.last_used_at),
        "usage_count": key.usage_count,
        "is_active": key.is_active,
        "deleted_at": ts_or_none(key.deleted_at),
    }


def api_key_from_row(row: Row) -> ApiKey:
    (
        id_,
        created_at,
        updated_at,
        user_id,
        name,
        key_prefix,
        key_hash,
        scopes,
        rate_limit_per_minute,
        expires_at,
        last_used_at,
        usage_count,
        is_active,
        deleted_at,
    ) = row
    return ApiKey(
        id=ApiKeyId(parse_uid(id_)),
        created_at=parse_ts(created_at),
        updated_at=parse_ts(updated_at),
        user_id=UserId(parse_uid(user_id)),
        name=name,
        key_prefix=key_prefix,
        key_hash=key_hash,
        scopes=parse_texts(scopes),
        rate_limit_per_minute=rate_limit_per_minute,
        expires_at=parse_ts_or_none(expires_at),
        last_used_at=parse_ts_or_none(last_used_at),
        usage_count=usage_count,
        is_active=bool(is_active),
        deleted_at=parse_ts_or_none(deleted_at),
    )


# --- audit entries -----------------------------------------------------------------------

AUDIT_COLUMNS: Final = (
    "id",
    "created_at",
    "updated_at",
    "user_id",
    "action",
    "resource_type",
    "resource_id",
    "changes",
    "metadata",
    "ip_address",
    "user_agent",
)


def audit_params(entry: AuditLog) -> Params:
    return {
        "id": uid(entry.id),
        "created_at": ts(entry.created_at),
        "updated_at": ts(entry.updated_at),
        "user_id": uid_or_none(entry.user_id),
        "action": entry.action,
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "changes": js(entry.changes, "changes"),
        "metadata": js(entry.metadata, "metadata"),
        "ip_address": entry.ip_address,
        "user_agent": entry.user_agent,
    }


def audit_from_row(row: Row) -> AuditLog:
    (
        id_,
        created_at,
        updated_at,
        user_id,
        action,
        resource_type,
        resource_id,
        changes,
        metadata,
        ip_address,
        user_agent,
    ) = row
    owner = parse_uid_or_none(user_id)
    return AuditLog(
        id=AuditLogId(parse_uid(id_)),
        created_at=parse_ts(created_at),
        updated_at=parse_ts(updated_at),
        user_id=UserId(owner) if owner is not None else None,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        changes=parse_js(changes),
        metadata=parse_js(metadata),
        ip_address=ip_address,
        user_agent=user_agent,
    )
