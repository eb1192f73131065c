"""Templates (usage counts, categories) and deployments."""

from __future__ import annotations

from typing import Final

from turbocat_adapters.sql.listing import Listing
from turbocat_adapters.sql.rows import Rows
from turbocat_adapters.sql.schema import DEPLOYMENTS, TEMPLATES
from turbocat_core.domain.common import DeploymentId, TemplateId
from turbocat_core.domain.deployment import DEPLOYMENT_QUERY, Deployment
from turbocat_core.domain.template import TEMPLATE_QUERY, Template

INCREMENT_TEMPLATE_USAGE: Final = (
    "UPDATE templates SET usage_count = usage_count + 1 WHERE id = :id AND deleted_at IS NULL"
)
# The dialect appends its code-point ordering of text.
TEMPLATE_CATEGORIES: Final = """
SELECT category, count(*) FROM templates
WHERE is_public = TRUE AND deleted_at IS NULL
GROUP BY category ORDER BY category"""


class TemplateRepository(Rows[Template, TemplateId]):
    __slots__ = ()
    listing = Listing(TEMPLATES, TEMPLATE_QUERY, public=True)

    async def increment_usage(self, template_id: TemplateId) -> None:
        await self._conn.change(INCREMENT_TEMPLATE_USAGE, self._key(template_id))

    async def categories(self) -> list[tuple[str, int]]:
        rows = await self._conn.fetch(TEMPLATE_CATEGORIES + self._conn.dialect.text_order, {})
        return [(category, count) for category, count in rows]


class DeploymentRepository(Rows[Deployment, DeploymentId]):
    __slots__ = ()
    listing = Listing(DEPLOYMENTS, DEPLOYMENT_QUERY)
