"""Signed webhooks: ``POST /hooks/{deploymentId}`` starts a RUNNING deployment's workflow.

A sender signs ``"<timestamp>.<body>"`` with the deployment's webhook secret (shown once,
when the deployment is created) using HMAC-SHA256, and sends the unix timestamp and the
signature in ``X-Turbocat-Timestamp`` and ``X-Turbocat-Signature: sha256=<hex>``. The
timestamp bounds a request's life to :data:`WEBHOOK_TOLERANCE_SECONDS` either side of the
server's clock, and the signature of each accepted request is remembered for longer than
that (:data:`REPLAY_MEMORY_SECONDS`), so the same request is accepted once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from turbocat_core.domain.common import DeploymentId, JsonObject, utc_text
from turbocat_core.domain.deployment import Deployment, DeploymentStatus
from turbocat_core.domain.execution import Execution, TriggerType
from turbocat_core.errors import (
    Conflict,
    InvalidState,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    ValidationFailed,
)
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.randomness import IdGenerator
from turbocat_core.ports.security import ReplayGuard, SecretBox
from turbocat_core.ports.storage import UnitOfWorkFactory
from turbocat_core.usecases.accounts import Client
from turbocat_core.usecases.deployments import WEBHOOK_RECEIVED, deployment_audit, owner_actor
from turbocat_core.usecases.executions import StartExecution

WEBHOOK_TOLERANCE_SECONDS: Final = 300
REPLAY_MEMORY_SECONDS: Final = 2 * WEBHOOK_TOLERANCE_SECONDS
"""A timestamp up to 5 minutes ahead stays acceptable until 10 minutes from now."""
REPLAYED: Final = (
    "this webhook request was already accepted; sign each delivery with a new timestamp"
)
SIGNATURE_PREFIX: Final = "sha256="
_TIMESTAMP: Final = re.compile(r"^[0-9]{1,12}$")
_NO_SECRET: Final = b"turbocat: no such deployment"  # HMAC key of refused lookups


def sign_webhook(secret: str, timestamp: str | int, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` keyed with the webhook secret
    (its text, UTF-8): the ``X-Turbocat-Signature`` a sender puts on a request."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def webhook_inputs(body: bytes) -> JsonObject:
    """The execution inputs of a webhook body: a JSON object as is, any other JSON value as
    ``{"body": value}``, an empty body as ``{}``; ``ValidationFailed`` for anything else."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError too
        raise ValidationFailed.field("body", "must be JSON") from None
    return value if isinstance(value, dict) else {"body": value}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveWebhook:
    """``POST /hooks/{deploymentId}``: start the deployment's workflow (trigger WEBHOOK).

    Authenticated by ``X-Turbocat-Timestamp`` (unix seconds, at most 5 minutes off) and
    ``X-Turbocat-Signature`` (:func:`sign_webhook`). Raises ``Unauthenticated`` for a bad
    timestamp or signature, an unknown id alike (compared in constant time, so ids cannot be
    probed); then ``InvalidState`` for an agent deployment, one that is not RUNNING, or a
    workflow that cannot run; ``ValidationFailed`` (field ``body``) for a body that is not
    JSON; ``Conflict`` for a request accepted before (the same deployment and signature,
    hence the same timestamp and body): it starts nothing. The signature is remembered in
    ``replay`` before the run starts, so of identical concurrent requests one starts a run;
    a refusal that started nothing forgets it again. Every request past the signature is
    recorded in the deployment's log (its size and the execution, never the body).
    """

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    secrets: SecretBox
    start: StartExecution
    replay: ReplayGuard
    tolerance_seconds: int = WEBHOOK_TOLERANCE_SECONDS

    async def __call__(
        self,
        deployment_id: str,
        *,
        timestamp: str | None,
        signature: str | None,
        body: bytes,
        client: Client | None = None,
    ) -> Execution:
        now = self.clock.now()
        if (
            timestamp is None
            or not _TIMESTAMP.fullmatch(timestamp)
            or abs(now.timestamp() - int(timestamp)) > self.tolerance_seconds
        ):
            raise Unauthenticated(
                "X-Turbocat-Timestamp is missing, or more than 5 minutes off the server's time"
            )
        deployment, signed = await self._verified(deployment_id, timestamp, signature or "", body)
        try:
            execution = await self._run(deployment, body, now, f"webhook:{deployment.id}:{signed}")
        except (InvalidState, ValidationFailed, Conflict) as error:
            await self._record(deployment, body, client, error=error.message)
            raise
        await self._record(deployment, body, client, execution=execution)
        return execution

    async def _verified(
        self, deployment_id: str, timestamp: str, signature: str, body: bytes
    ) -> tuple[Deployment, str]:
        """The deployment and the signature's hex digest (as computed, so any spelling of
        one signature is the same replay key)."""
        try:
            key = DeploymentId(UUID(deployment_id))
        except ValueError:
            key = None
        deployment: Deployment | None = None
        if key is not None:
            async with self.uow() as uow:
                deployment = await uow.deployments.get(key)
        secret: str | None = None
        token = deployment.webhook_secret if deployment else None
        if token is not None:
            try:
                secret = self.secrets.decrypt(token)
            except ValidationFailed:
                secret = None  # a key the server lost: nobody can sign for this deployment
        # An unknown deployment costs the same HMAC and comparison as a wrong signature.
        expected = sign_webhook(
            secret if secret is not None else _NO_SECRET.decode(), timestamp, body
        )
        given = signature.strip().lower()
        matches = hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
        if not matches or secret is None or deployment is None:
            raise Unauthenticated("the webhook signature is missing or invalid")
        return deployment, expected.removeprefix(SIGNATURE_PREFIX)

    async def _run(
        self, deployment: Deployment, body: bytes, now: datetime, replay_key: str
    ) -> Execution:
        if deployment.workflow_id is None:
            raise InvalidState("webhooks start workflows; this deployment runs an agent")
        if deployment.status is not DeploymentStatus.RUNNING:
            raise InvalidState(
                f"the deployment is {deployment.status}; only a RUNNING one accepts webhooks"
            )
        inputs = webhook_inputs(body)
        async with self.uow() as uow:
            owner = await owner_actor(uow, deployment.user_id)
        if owner is None:
            raise InvalidState("the deployment's owner account is disabled")
        if not await self.replay.first_use(replay_key, REPLAY_MEMORY_SECONDS):
            raise Conflict(REPLAYED)
        try:
            return await self.start(
                owner,
                deployment.workflow_id,
                inputs=inputs,
                trigger=TriggerType.WEBHOOK,
                trigger_data={"deploymentId": str(deployment.id), "receivedAt": utc_text(now)},
                deployment_id=deployment.id,
            )
        except (NotFound, PermissionDenied, InvalidState, ValidationFailed) as error:
            # Refused before anything was written: the same request may come again.
            await self.replay.forget(replay_key)
            if isinstance(error, InvalidState):
                raise
            if isinstance(error, ValidationFailed):
                raise InvalidState(
                    f"the deployment's workflow cannot run: {error.message}"
                ) from None
            raise InvalidState("the deployment's workflow no longer exists") from None

    async def _record(
        self,
        deployment: Deployment,
        body: bytes,
        client: Client | None,
        *,
        execution: Execution | None = None,
        error: str | None = None,
    ) -> None:
        metadata: JsonObject = {"bodyBytes": len(body)}
        if execution is not None:
            metadata["executionId"] = str(execution.id)
        if error is not None:
            metadata["error"] = error
        async with self.uow() as uow:
            await deployment_audit(
                uow,
                self.clock,
                self.ids,
                WEBHOOK_RECEIVED,
                user_id=deployment.user_id,
                deployment_id=deployment.id,
                metadata=metadata,
                client=client,
            )
            await uow.commit()
