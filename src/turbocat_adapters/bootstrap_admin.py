"""The bootstrap ADMIN (``TURBOCAT_BOOTSTRAP_ADMIN_EMAIL`` and ``_PASSWORD``), created once.

`turbocat serve` calls it before any worker starts; a server on ``memory://`` (whose data
lives only in its own process) calls it again from its start-up, where its store is.
"""

from __future__ import annotations

from turbocat_adapters.container import Container
from turbocat_core.domain.user import UserRole
from turbocat_core.errors import ValidationFailed


async def ensure_bootstrap_admin(container: Container) -> str | None:
    """Create the configured ADMIN unless that user exists; the email when it was created.
    ``ValidationFailed`` for an email without a password."""
    settings = container.settings()
    email, password = settings.bootstrap_admin_email, settings.bootstrap_admin_password
    if not email:
        return None
    if not password:
        raise ValidationFailed.field(
            "TURBOCAT_BOOTSTRAP_ADMIN_PASSWORD", "is needed with TURBOCAT_BOOTSTRAP_ADMIN_EMAIL"
        )
    created = await container.create_user()(email, password, role=UserRole.ADMIN, exist_ok=True)
    return created.email if created is not None else None
