"""Re-encrypt every deployment's secrets under the current key (after a key rotation).

Rotation: set the new key as ``TURBOCAT_ENCRYPTION_KEY`` and the old one in
``TURBOCAT_PREVIOUS_ENCRYPTION_KEYS`` (values sealed with either still open), run
``turbocat db reseal``, then drop the old key. Each deployment is re-sealed in a unit of work
of its own, read fresh inside it, so an edit made meanwhile is kept, not overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from turbocat_core.domain.common import DeploymentId, ListQuery
from turbocat_core.domain.deployment import DEPLOYMENT_QUERY, Deployment
from turbocat_core.errors import ValidationFailed
from turbocat_core.ports.security import SecretBox
from turbocat_core.ports.storage import UnitOfWorkFactory

PAGE_SIZE = 100


@dataclass(slots=True)
class ResealReport:
    """How many deployments were re-sealed, and those holding a value no key opens (named
    by id and variable, ``@webhook`` for the webhook secret; those values are left as they
    were)."""

    resealed: int = 0
    unreadable: list[tuple[DeploymentId, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResealSecrets:
    """Decrypt each live deployment's variables and webhook secret and seal them again with
    the box's current key."""

    uow: UnitOfWorkFactory
    secrets: SecretBox

    async def __call__(self) -> ResealReport:
        report = ResealReport()
        for deployment_id in await self._ids():
            async with self.uow() as uow:
                deployment = await uow.deployments.get(deployment_id)
                if deployment is None:  # deleted meanwhile
                    continue
                await uow.deployments.update(self._resealed(deployment, report))
                await uow.commit()
            report.resealed += 1
        return report

    async def _ids(self) -> list[DeploymentId]:
        ids: list[DeploymentId] = []
        page = 1
        async with self.uow() as uow:
            while True:
                query = ListQuery.build(
                    DEPLOYMENT_QUERY, page=page, page_size=PAGE_SIZE, sort_by="created_at"
                )
                result = await uow.deployments.list(query)
                ids += [deployment.id for deployment in result.items]
                if not result.has_next:
                    return ids
                page += 1

    def _resealed(self, deployment: Deployment, report: ResealReport) -> Deployment:
        def seal(name: str, token: str) -> str:
            try:
                return self.secrets.encrypt(self.secrets.decrypt(token))
            except ValidationFailed:
                report.unreadable.append((deployment.id, name))
                return token

        variables = {
            name: seal(name, token) for name, token in deployment.environment_variables.items()
        }
        webhook = deployment.webhook_secret
        return replace(
            deployment,
            environment_variables=variables,
            webhook_secret=seal("@webhook", webhook) if webhook is not None else None,
        )
