"""Templates (usage counts, categories) and deployments."""

from __future__ import annotations

from typing import Any, Final

from psycopg.rows import DictRow

from turbocat_adapters.postgres.mapping import jsonb, strings
from turbocat_adapters.postgres.querying import Listing
from turbocat_adapters.postgres.repositories.base import EntityRepository
from turbocat_core.domain.common import DeploymentId, TemplateId
from turbocat_core.domain.deployment import (
    DEPLOYMENT_QUERY,
    Deployment,
    DeploymentStatus,
    Environment,
    HealthStatus,
)
from turbocat_core.domain.template import TEMPLATE_QUERY, Template, TemplateType

# --- templates ----------------------------------------------------------------------------

INSERT_TEMPLATE: Final = """
INSERT INTO templates (
    id, user_id, name, type, category, description, template_data, is_official,
    is_public, usage_count, rating_average, rating_count, tags, deleted_at, created_at,
    updated_at
) VALUES (
    %(id)s, %(user_id)s, %(name)s, %(type)s, %(category)s, %(description)s,
    %(template_data)s, %(is_official)s, %(is_public)s, %(usage_count)s,
    %(rating_average)s, %(rating_count)s, %(tags)s, %(deleted_at)s, %(created_at)s,
    %(updated_at)s
)"""
GET_TEMPLATE: Final = "SELECT * FROM templates WHERE id = %(id)s AND deleted_at IS NULL"
UPDATE_TEMPLATE: Final = """
UPDATE templates SET
    user_id = %(user_id)s, name = %(name)s, type = %(type)s, category = %(category)s,
    description = %(description)s, template_data = %(template_data)s,
    is_official = %(is_official)s, is_public = %(is_public)s,
    usage_count = %(usage_count)s, rating_average = %(rating_average)s,
    rating_count = %(rating_count)s, tags = %(tags)s, deleted_at = %(deleted_at)s,
    created_at = %(created_at)s, updated_at = %(updated_at)s
WHERE id = %(id)s AND deleted_at IS NULL"""
INCREMENT_TEMPLATE_USAGE: Final = (
    "UPDATE templates SET usage_count = usage_count + 1 WHERE id = %(id)s AND deleted_at IS NULL"
)
TEMPLATE_CATEGORIES: Final = """
SELECT category, count(*) AS templates FROM templates
WHERE is_public AND deleted_at IS NULL
GROUP BY category
ORDER BY category COLLATE "C" """


def template_params(template: Template) -> dict[str, Any]:
    return {
        "id": template.id,
        "user_id": template.user_id,
        "name": template.name,
        "type": template.type.value,
        "category": template.category,
        "description": template.description,
        "template_data": jsonb(template.template_data),
        "is_official": template.is_official,
        "is_public": template.is_public,
        "usage_count": template.usage_count,
        "rating_average": template.rating_average,
        "rating_count": template.rating_count,
        "tags": list(template.tags),
        "deleted_at": template.deleted_at,
        "created_at": template.created_at,
        "updated_at": template.updated_at,
    }


def template_from_row(row: DictRow) -> Template:
    return Template(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        type=TemplateType(row["type"]),
        category=row["category"],
        description=row["description"],
        template_data=row["template_data"],
        is_official=row["is_official"],
        is_public=row["is_public"],
        usage_count=row["usage_count"],
        rating_average=row["rating_average"],
        rating_count=row["rating_count"],
        tags=strings(row["tags"]),
        deleted_at=row["deleted_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class PostgresTemplateRepository(EntityRepository[Template, TemplateId]):
    __slots__ = ()
    label = "template"
    listing = Listing("templates", TEMPLATE_QUERY, has_public=True)
    insert_sql = INSERT_TEMPLATE
    get_sql = GET_TEMPLATE
    update_sql = UPDATE_TEMPLATE
    to_params = staticmethod(template_params)
    from_row = staticmethod(template_from_row)

    async def increment_usage(self, template_id: TemplateId) -> None:
        await self._session.write(INCREMENT_TEMPLATE_USAGE, {"id": template_id})

    async def categories(self) -> list[tuple[str, int]]:
        rows = await self._session.all(TEMPLATE_CATEGORIES, {})
        return [(row["category"], row["templates"]) for row in rows]


# --- deployments --------------------------------------------------------------------------

INSERT_DEPLOYMENT: Final = """
INSERT INTO deployments (
    id, user_id, name, workflow_id, agent_id, description, environment, status, config,
    environment_variables, health_status, last_health_check_at, allocated_memory_mb,
    allocated_cpu, started_at, stopped_at, deleted_at, created_at, updated_at, webhook_secret
) VALUES (
    %(id)s, %(user_id)s, %(name)s, %(workflow_id)s, %(agent_id)s, %(description)s,
    %(environment)s, %(status)s, %(config)s, %(environment_variables)s,
    %(health_status)s, %(last_health_check_at)s, %(allocated_memory_mb)s,
    %(allocated_cpu)s, %(started_at)s, %(stopped_at)s, %(deleted_at)s, %(created_at)s,
    %(updated_at)s, %(webhook_secret)s
)"""
GET_DEPLOYMENT: Final = "SELECT * FROM deployments WHERE id = %(id)s AND deleted_at IS NULL"
UPDATE_DEPLOYMENT: Final = """
UPDATE deployments SET
    user_id = %(user_id)s, name = %(name)s, workflow_id = %(workflow_id)s,
    agent_id = %(agent_id)s, description = %(description)s,
    environment = %(environment)s, status = %(status)s, config = %(config)s,
    environment_variables = %(environment_variables)s,
    health_status = %(health_status)s, last_health_check_at = %(last_health_check_at)s,
    allocated_memory_mb = %(allocated_memory_mb)s, allocated_cpu = %(allocated_cpu)s,
    started_at = %(started_at)s, stopped_at = %(stopped_at)s, deleted_at = %(deleted_at)s,
    created_at = %(created_at)s, updated_at = %(updated_at)s,
    webhook_secret = %(webhook_secret)s
WHERE id = %(id)s AND deleted_at IS NULL"""


def deployment_params(deployment: Deployment) -> dict[str, Any]:
    return {
        "id": deployment.id,
        "user_id": deployment.user_id,
        "name": deployment.name,
        "workflow_id": deployment.workflow_id,
        "agent_id": deployment.agent_id,
        "description": deployment.description,
        "environment": deployment.environment.value,
        "status": deployment.status.value,
        "config": jsonb(deployment.config),
        "environment_variables": jsonb(deployment.environment_variables),
        "health_status": deployment.health_status.value,
        "last_health_check_at": deployment.last_health_check_at,
        "allocated_memory_mb": deployment.allocated_memory_mb,
        "allocated_cpu": deployment.allocated_cpu,
        "started_at": deployment.started_at,
        "stopped_at": deployment.stopped_at,
        "deleted_at": deployment.deleted_at,
        "created_at": deployment.created_at,
        "updated_at": deployment.updated_at,
        "webhook_secret": deployment.webhook_secret,
    }


def deployment_from_row(row: DictRow) -> Deployment:
    return Deployment(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        workflow_id=row["workflow_id"],
        agent_id=row["agent_id"],
        description=row["description"],
        environment=Environment(row["environment"]),
        status=DeploymentStatus(row["status"]),
        config=row["config"],
        environment_variables=row["environment_variables"],
        health_status=HealthStatus(row["health_status"]),
        last_health_check_at=row["last_health_check_at"],
        allocated_memory_mb=row["allocated_memory_mb"],
        allocated_cpu=row["allocated_cpu"],
        started_at=row["started_at"],
        stopped_at=row["stopped_at"],
        deleted_at=row["deleted_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        webhook_secret=row["webhook_secret"],
    )


class PostgresDeploymentRepository(EntityRepository[Deployment, DeploymentId]):
    __slots__ = ()
    label = "deployment"
    listing = Listing(
        "deployments",
        DEPLOYMENT_QUERY,
        uuid_columns=frozenset({"user_id", "workflow_id", "agent_id"}),
        text_columns=frozenset({"name", "status", "environment"}),
    )
    insert_sql = INSERT_DEPLOYMENT
    get_sql = GET_DEPLOYMENT
    update_sql = UPDATE_DEPLOYMENT
    to_params = staticmethod(deployment_params)
    from_row = staticmethod(deployment_from_row)
