"""``POST/GET /api-keys``, ``DELETE /api-keys/{id}``: a login session manages its keys."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

from typing import Any
from uuid import UUID

from litestar import Request, Router, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from turbocat_adapters.wire import to_wire
from turbocat_core.domain.access import Actor
from turbocat_core.domain.api_key import API_KEY_QUERY, ApiKey
from turbocat_core.domain.common import ApiKeyId
from turbocat_core.usecases.api_keys import CreateApiKey, ListApiKeys, RevokeApiKey
from turbocat_http.api_keys.schemas import CreateApiKeyIn, CreatedApiKey
from turbocat_http.auth.access import SESSION_ONLY
from turbocat_http.auth.security import ACTOR, client_of
from turbocat_http.dependencies import provide
from turbocat_http.envelope import ListParams, list_query, ok, paged
from turbocat_http.schemas import Envelope, PageEnvelope


@post("/", status_code=HTTP_201_CREATED, **SESSION_ONLY)
async def create_api_key(
    data: JSONBody[CreateApiKeyIn],
    request: Request[Any, Any, Any],
    actor: NamedDependency[Actor],
    create_api_key: NamedDependency[CreateApiKey],
) -> Envelope[CreatedApiKey]:
    """A new key; ``key`` is the full key, shown this once (send it as ``X-API-Key``)."""
    key, raw = await create_api_key(
        actor,
        name=data.name,
        scopes=data.scopes,
        rate_limit_per_minute=data.rate_limit_per_minute,
        expires_at=data.expires_at,
        client=client_of(request),
    )
    return ok({"apiKey": to_wire(key), "key": raw})


@get("/", **SESSION_ONLY)
async def list_api_keys(
    actor: NamedDependency[Actor],
    listing: NamedDependency[ListParams],
    list_api_keys: NamedDependency[ListApiKeys],
) -> PageEnvelope[ApiKey]:
    """The caller's live keys, newest first (never the keys themselves)."""
    return paged(await list_api_keys(actor, list_query(listing, API_KEY_QUERY)))


@delete("/{key_id:uuid}", status_code=HTTP_204_NO_CONTENT, **SESSION_ONLY)
async def revoke_api_key(
    key_id: FromPath[UUID],
    request: Request[Any, Any, Any],
    actor: NamedDependency[Actor],
    revoke_api_key: NamedDependency[RevokeApiKey],
) -> None:
    """Revoke one of the caller's keys at once."""
    await revoke_api_key(actor, ApiKeyId(key_id), client_of(request))


router = Router(
    "/api-keys",
    route_handlers=[create_api_key, list_api_keys, revoke_api_key],
    dependencies={"actor": ACTOR, **provide("create_api_key", "list_api_keys", "revoke_api_key")},
    tags=["api-keys"],
)
