"""Who may call a route: each handler declares one rule, and one guard enforces them all.

A route's decorator takes the rule's keyword arguments (its OpenAPI ``security`` and the
rule in ``opt``)::

    @get("/", **scoped("agents", "read"))

- :data:`PUBLIC`: no credentials (any sent are ignored);
- :func:`optional`: no credentials, or valid ones; an API key then needs the scope;
- :func:`scoped`: a bearer token, or an API key holding the scope (``*`` holds every
  scope, ``x:write`` implies ``x:read``);
- :data:`SESSION_ONLY`: a bearer token; API keys never (account and key management).

:func:`check_access` (a guard on the ``/api/v1`` router) runs before the body and the
parameters are read, so a key without the route's scope is 403 whatever it sends. A route
that declares no rule refuses API keys. docs/api.md lists every route with its rule, and a
test walks the app's routes with a key of each scope against that list.
"""

# No ``from __future__ import annotations``: Litestar reads the guard's signature.

from dataclasses import dataclass
from typing import Any, Final

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.openapi.spec import SecurityRequirement

from turbocat_core.domain.access import require_scope
from turbocat_core.errors import PermissionDenied
from turbocat_http.auth.security import authenticate, has_credentials
from turbocat_http.openapi import AUTHENTICATED, BEARER_ONLY

ACCESS_OPT: Final = "access"
"""The key of a handler's ``opt`` that holds its :class:`Access`."""
OPTIONALLY_AUTHENTICATED: Final[list[SecurityRequirement]] = [{}, *AUTHENTICATED]
"""No credentials, or valid ones (a bad token or key is still 401)."""

PUBLIC_KIND: Final = "public"
OPTIONAL_KIND: Final = "optional"
SCOPED_KIND: Final = "scoped"
SESSION_KIND: Final = "session"


@dataclass(frozen=True, slots=True)
class Access:
    """One route's rule: its kind and, for ``scoped`` and ``optional``, the scope."""

    kind: str
    resource: str | None = None
    action: str | None = None

    @property
    def label(self) -> str:
        """How docs/api.md names the rule: ``public``, ``session``, or the scope."""
        if self.kind in (PUBLIC_KIND, SESSION_KIND):
            return self.kind
        return f"{self.resource}:{self.action}"


def _rule(access: Access, security: list[SecurityRequirement] | None) -> dict[str, Any]:
    rule: dict[str, Any] = {"opt": {ACCESS_OPT: access}}
    if security is not None:
        rule["security"] = security
    return rule


PUBLIC: Final = _rule(Access(PUBLIC_KIND), None)
SESSION_ONLY: Final = _rule(Access(SESSION_KIND), BEARER_ONLY)


def scoped(resource: str, action: str) -> dict[str, Any]:
    """A bearer token, or an API key with ``<resource>:<action>``."""
    return _rule(Access(SCOPED_KIND, resource, action), AUTHENTICATED)


def optional(resource: str, action: str) -> dict[str, Any]:
    """Anyone; credentials, when sent, must be valid, and a key must hold the scope."""
    return _rule(Access(OPTIONAL_KIND, resource, action), OPTIONALLY_AUTHENTICATED)


def access_of(handler: BaseRouteHandler) -> Access | None:
    """The rule a handler declares (``None``: none, so API keys are refused)."""
    access = handler.opt.get(ACCESS_OPT)
    return access if isinstance(access, Access) else None


async def check_access(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Enforce the route's rule: ``Unauthenticated`` for missing or bad credentials where
    they are needed, ``PermissionDenied`` for an API key the rule does not admit."""
    access = access_of(handler)
    if access is None:
        if connection.headers.get("x-api-key"):
            raise PermissionDenied("this route takes no API key")
        return
    if access.kind == PUBLIC_KIND:
        return
    if access.kind == OPTIONAL_KIND and not has_credentials(connection):
        return
    actor = await authenticate(connection)
    if actor.api_key_id is None:
        return
    if access.kind == SESSION_KIND or access.resource is None or access.action is None:
        raise PermissionDenied("this needs a login session (a bearer token), not an API key")
    require_scope(actor, access.resource, access.action)
