"""``POST /hooks/{deploymentId}``: a signed webhook starts the deployment's workflow.

No bearer token or API key: the request is authenticated by its signature. The sender
signs ``"<timestamp>.<raw body>"`` with the secret ``POST /deployments`` returned once::

    ts=$(date +%s)
    sig=$(printf '%s.%s' "$ts" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)
    curl -X POST "$API/hooks/$DEPLOYMENT_ID" -H 'Content-Type: application/json' \\
      -H "X-Turbocat-Timestamp: $ts" -H "X-Turbocat-Signature: sha256=$sig" -d "$BODY"
"""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

from typing import Annotated, Any

from litestar import Request, Router, post
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter
from litestar.status_codes import HTTP_202_ACCEPTED

from turbocat_core.domain.execution import Execution
from turbocat_core.usecases.webhooks import ReceiveWebhook
from turbocat_http.auth.access import PUBLIC
from turbocat_http.auth.security import client_of
from turbocat_http.dependencies import provide
from turbocat_http.envelope import ok
from turbocat_http.openapi import error_responses
from turbocat_http.schemas import Envelope

MAX_HEADER = 256


@post(
    "/{deployment_id:str}",
    status_code=HTTP_202_ACCEPTED,
    responses=error_responses(401, 409),
    **PUBLIC,
)
async def receive_webhook(
    deployment_id: FromPath[str],
    request: Request[Any, Any, Any],
    receive_webhook: NamedDependency[ReceiveWebhook],
    timestamp: Annotated[
        str | None,
        HeaderParameter(
            name="X-Turbocat-Timestamp",
            max_length=MAX_HEADER,
            description="Unix seconds when the request was signed (5 minutes of leeway).",
        ),
    ] = None,
    signature: Annotated[
        str | None,
        HeaderParameter(
            name="X-Turbocat-Signature",
            max_length=MAX_HEADER,
            description='"sha256=" + hex HMAC-SHA256 of "<timestamp>.<raw body>" keyed with '
            "the deployment's webhook secret.",
        ),
    ] = None,
) -> Envelope[Execution]:
    """Start the deployment's workflow (trigger WEBHOOK) with the JSON body as its inputs (a
    body that is not an object arrives as ``{"body": value}``; no body as ``{}``). 202 with
    the PENDING execution. UNAUTHORIZED for a missing, stale or wrong signature and for an
    unknown deployment alike; VALIDATION_ERROR (field ``body``) for a body that is not JSON;
    INVALID_STATE when the deployment is not RUNNING, runs an agent, or its workflow cannot
    run; CONFLICT when this very request (same timestamp, body and signature) was accepted
    before: it starts nothing."""
    body = await request.body()
    execution = await receive_webhook(
        deployment_id,
        timestamp=timestamp,
        signature=signature,
        body=body,
        client=client_of(request),
    )
    return ok(execution)


router = Router(
    "/hooks",
    route_handlers=[receive_webhook],
    dependencies=provide("receive_webhook"),
    tags=["hooks"],
)
