"""``POST /api-keys``."""

# No ``from __future__ import annotations``: msgspec reads the annotations at run time.

from datetime import datetime
from typing import Annotated

import msgspec

from turbocat_core.domain.api_key import ApiKey


class CreateApiKeyIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    scopes: Annotated[list[str], msgspec.Meta(max_length=32)] | None = None
    """``<resource>:read|write`` (agents, workflows, executions, templates, deployments,
    analytics) or ``*`` (the default: everything)."""
    rate_limit_per_minute: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | None = None
    expires_at: datetime | None = None


class CreatedApiKey(msgspec.Struct, rename="camel"):
    """The stored key and, this once, the full key."""

    api_key: ApiKey
    key: str
