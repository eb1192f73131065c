"""Deployment use cases on the in-memory store: variables, health, webhook verification,
the lifecycle, and the secrets a deployment's runs see as ``{{env.NAME}}``."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from tests.core.builders import step
from tests.core.engine.harness import T0, Harness
from turbocat_adapters.crypto import AesGcmSecretBox
from turbocat_adapters.memory import InProcessQueue
from turbocat_core.domain.access import Actor
from turbocat_core.domain.agent import AgentType
from turbocat_core.domain.common import DeploymentId, ExecutionId, UserId, utc_text
from turbocat_core.domain.deployment import DeploymentStatus, HealthStatus
from turbocat_core.domain.execution import Execution, ExecutionStatus
from turbocat_core.domain.user import UserRole
from turbocat_core.engine.env import NO_ENV
from turbocat_core.errors import InvalidState, NotFound, Unauthenticated, ValidationFailed
from turbocat_core.usecases.deployment_lifecycle import StartDeployment, StopDeployment
from turbocat_core.usecases.deployments import (
    MAX_VARIABLE_BYTES,
    CreateDeployment,
    GetDeployment,
    UpdateDeployment,
    check_variables,
    deployment_env,
    health_of,
    masked_variables,
)
from turbocat_core.usecases.reseal import ResealSecrets
from turbocat_core.usecases.webhooks import ReceiveWebhook, sign_webhook, webhook_inputs

KEY = bytes(range(32))


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()  # its owner's row made: named here
    async with harness.store.unit_of_work() as uow:
        owner = await uow.users.get(harness.owner)
        assert owner is not None
        await uow.users.update(dataclasses.replace(owner, email="ada@example.com"))
        await uow.commit()
    yield harness
    await harness.queue.close()


def ports(h: Harness) -> dict[str, object]:
    return {"uow": h.store.unit_of_work, "clock": h.clock, "ids": h.ids}


async def deployed(h: Harness, **variables: str) -> tuple[DeploymentId, str]:
    """A RUNNING deployment of a one-step DATA workflow: ``pick token`` over the input data."""
    agent = await h.agent(
        "picker", agent_type=AgentType.DATA, config={"operation": "pick", "fields": ["token"]}
    )
    workflow = await h.workflow(
        [step("a", agent_id=agent.id, inputs={"data": {"token": "{{env.TOKEN}}", "n": 1}})]
    )
    create = CreateDeployment(**ports(h), random=h.random, secrets=AesGcmSecretBox(KEY))
    deployment, secret = await create(
        h.actor, name="d", workflow_id=workflow.id, environment_variables=variables
    )
    await StartDeployment(**ports(h))(h.actor, deployment.id)
    return deployment.id, secret


# --- pure helpers ----------------------------------------------------------------------


def _runs(*statuses: ExecutionStatus, **fields: object) -> list[Execution]:
    values: dict[str, object] = {"workflow_id": uuid4(), "user_id": UserId(uuid4()), **fields}
    return [
        Execution(id=ExecutionId(uuid4()), created_at=T0, updated_at=T0, status=status, **values)
        for status in statuses
    ]


@pytest.mark.parametrize(
    ("completed", "failed", "health"),
    [
        (0, 0, HealthStatus.UNKNOWN),
        (9, 1, HealthStatus.HEALTHY),
        (1, 0, HealthStatus.HEALTHY),
        (17, 3, HealthStatus.DEGRADED),  # 85%
        (1, 1, HealthStatus.DEGRADED),  # exactly 50%
        (9, 11, HealthStatus.UNHEALTHY),
        (0, 4, HealthStatus.UNHEALTHY),
    ],
)
def test_health_thresholds(completed, failed, health):
    runs = _runs(*[ExecutionStatus.COMPLETED] * completed, *[ExecutionStatus.FAILED] * failed)
    assert health_of(runs) is health


def test_unfinished_runs_do_not_count_for_health():
    runs = _runs(ExecutionStatus.RUNNING, ExecutionStatus.PENDING, ExecutionStatus.COMPLETED)
    assert health_of(runs) is HealthStatus.HEALTHY
    assert health_of(_runs(ExecutionStatus.RUNNING)) is HealthStatus.UNKNOWN


def test_variable_rules():
    check_variables({"A": "", "_b9": "x" * MAX_VARIABLE_BYTES, "Z" * 128: "v"}, allow_removal=False)
    check_variables({"GONE": None}, allow_removal=True)
    with pytest.raises(ValidationFailed) as caught:
        check_variables(
            {
                "9X": "v",
                "A B": "v",
                "Z" * 129: "v",
                "OK": "é" * (MAX_VARIABLE_BYTES // 2 + 1),  # counted in bytes
                "NIL": None,
                "NUM": 1,
            },
            allow_removal=False,
        )
    fields = [d.field for d in caught.value.details]
    assert fields == [
        f"environment_variables.{n}" for n in ("9X", "A B", "Z" * 129, "OK", "NIL", "NUM")
    ]


def test_webhook_signatures_and_bodies():
    body = b'{"a": 1}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign_webhook("s3cret", 1700000000, body) == f"sha256={expected}"
    assert sign_webhook("s3cret", "1700000000", body) == f"sha256={expected}"
    assert webhook_inputs(b"  ") == {}
    assert webhook_inputs(b'{"x": [1]}') == {"x": [1]}
    assert webhook_inputs(b"3.5") == {"body": 3.5}
    for bad in (b"{", b"Infinity", b"\xff", b"[" * 50_000):
        with pytest.raises(ValidationFailed):
            webhook_inputs(bad)


# --- the secrets of a run --------------------------------------------------------------


async def test_a_deployments_runs_read_its_variables_as_env(h: Harness):
    box = AesGcmSecretBox(KEY)
    deployment_id, secret = await deployed(h, TOKEN="s3cr3t-value", OTHER="o")
    engine = dataclasses.replace(
        h.engine, env_for=deployment_env(uow=h.store.unit_of_work, secrets=box)
    )
    h.queue = InProcessQueue(runner=engine.run, clock=h.clock)
    async with h.store.unit_of_work() as uow:
        workflow_id = (await uow.deployments.get(deployment_id)).workflow_id
        workflow = await uow.workflows.get(workflow_id)
    assert workflow is not None

    execution = await h.run(workflow, deployment_id=deployment_id)
    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    assert execution.output_data == {"a": {"token": "s3cr3t-value"}}
    assert "s3cr3t-value" not in repr(await h.logs(execution.id))

    env = await deployment_env(uow=h.store.unit_of_work, secrets=box)(execution)
    assert env.values == {"TOKEN": "s3cr3t-value", "OTHER": "o"}  # never the webhook secret
    assert secret not in env.values.values()
    assert env.owner == h.owner  # the deployment's owner: only their definitions read them
    # Runs without a deployment, or of a deleted one, have no env; nor do values sealed
    # with a key the server no longer has.
    plain = await h.run(workflow)
    assert plain.output_data == {"a": {"token": "{{env.TOKEN}}"}}
    stranger = deployment_env(uow=h.store.unit_of_work, secrets=AesGcmSecretBox(bytes(32)))
    assert (await stranger(execution)).values == {}
    assert (
        await deployment_env(uow=h.store.unit_of_work, secrets=box)(
            dataclasses.replace(execution, deployment_id=DeploymentId(uuid4()))
        )
        == NO_ENV
    )


# --- lifecycle, variables, health ------------------------------------------------------


async def test_lifecycle_moves(h: Harness):
    deployment_id, _ = await deployed(h)
    start, stop = StartDeployment(**ports(h)), StopDeployment(**ports(h))
    with pytest.raises(InvalidState):
        await start(h.actor, deployment_id)
    stopped = await stop(h.actor, deployment_id)
    assert stopped.status is DeploymentStatus.STOPPED and stopped.stopped_at == h.clock.now()
    with pytest.raises(InvalidState):
        await stop(h.actor, deployment_id)
    for status in (DeploymentStatus.FAILED, DeploymentStatus.MAINTENANCE):
        async with h.store.unit_of_work() as uow:
            current = await uow.deployments.get(deployment_id)
            assert current is not None
            await uow.deployments.update(dataclasses.replace(current, status=status))
            await uow.commit()
        assert (await start(h.actor, deployment_id)).status is DeploymentStatus.RUNNING
        await stop(h.actor, deployment_id)
    stranger = Actor(user_id=UserId(uuid4()), role=UserRole.USER)
    with pytest.raises(NotFound):
        await start(stranger, deployment_id)


async def test_update_merges_variables_and_masks_them(h: Harness):
    box = AesGcmSecretBox(KEY)
    deployment_id, secret = await deployed(h, A="1", B="2")
    update = UpdateDeployment(**ports(h), secrets=box)
    updated = await update(
        h.actor, deployment_id, {"environment_variables": {"A": None, "C": "3", "B": "22"}}
    )
    assert masked_variables(updated) == {"B": "********", "C": "********"}
    stored = {k: box.decrypt(v) for k, v in updated.environment_variables.items()}
    assert stored == {"B": "22", "C": "3"}
    assert updated.webhook_secret is not None and box.decrypt(updated.webhook_secret) == secret
    with pytest.raises(ValidationFailed) as caught:
        await update(h.actor, deployment_id, {"workflow_id": None})
    assert caught.value.details[0].field == "workflow_id"
    with pytest.raises(ValidationFailed):
        await update(h.actor, deployment_id, {"environment": "MOON"})


async def test_health_is_recomputed_and_stored_when_read(h: Harness):
    deployment_id, _ = await deployed(h)
    async with h.store.unit_of_work() as uow:
        deployment = await uow.deployments.get(deployment_id)
        assert deployment is not None and deployment.workflow_id is not None
        statuses = [ExecutionStatus.COMPLETED] * 3 + [ExecutionStatus.FAILED] * 2
        for run in _runs(
            *statuses,
            workflow_id=deployment.workflow_id,
            user_id=h.owner,
            deployment_id=deployment_id,
        ):
            await uow.executions.add(run)
        await uow.commit()
    h.clock.advance(60)
    got = await GetDeployment(uow=h.store.unit_of_work, clock=h.clock)(h.actor, deployment_id)
    assert got.health_status is HealthStatus.DEGRADED  # 60%
    assert got.last_health_check_at == h.clock.now()
    assert got.updated_at < h.clock.now()


# --- webhooks ------------------------------------------------------------------------------


def _receiver(h: Harness) -> ReceiveWebhook:
    return ReceiveWebhook(
        **ports(h),
        secrets=AesGcmSecretBox(KEY),
        start=h.start,
        replay=h.store.replay_guard(h.clock),
    )


async def test_webhook_timestamps_have_five_minutes_of_leeway(h: Harness):
    deployment_id, secret = await deployed(h)
    receive, body = _receiver(h), b'{"k": "v"}'
    now = int(h.clock.now().timestamp())
    for offset in (-300, 0, 300):
        stamp = str(now + offset)
        execution = await receive(
            str(deployment_id),
            timestamp=stamp,
            signature=sign_webhook(secret, stamp, body),
            body=body,
        )
        assert execution.input_data == {"k": "v"}
        assert execution.trigger_data == {
            "deploymentId": str(deployment_id),
            "receivedAt": utc_text(h.clock.now()),
        }
    for offset in (-301, 301):
        stamp = str(now + offset)
        with pytest.raises(Unauthenticated):
            await receive(
                str(deployment_id),
                timestamp=stamp,
                signature=sign_webhook(secret, stamp, body),
                body=body,
            )


async def test_webhooks_run_as_the_owner_and_stop_when_the_owner_is_disabled(h: Harness):
    deployment_id, secret = await deployed(h)
    receive, stamp = _receiver(h), str(int(h.clock.now().timestamp()))
    execution = await receive(
        str(deployment_id), timestamp=stamp, signature=sign_webhook(secret, stamp, b""), body=b""
    )
    assert execution.user_id == h.owner and execution.deployment_id == deployment_id
    async with h.store.unit_of_work() as uow:
        user = await uow.users.get(h.owner)
        assert user is not None
        await uow.users.update(dataclasses.replace(user, is_active=False))
        await uow.commit()
    h.clock.advance(1)
    with pytest.raises(InvalidState, match="owner"):
        await receive(
            str(deployment_id),
            timestamp=stamp,
            signature=sign_webhook(secret, stamp, b""),
            body=b"",
        )


# --- key rotation ----------------------------------------------------------------------


async def test_reseal_moves_every_secret_to_the_new_key(h: Harness):
    first, first_secret = await deployed(h, TOKEN="t-1", OTHER="o-1")
    second, _ = await deployed(h)
    new_key = bytes(range(1, 33))
    rotated = AesGcmSecretBox(new_key, [KEY])

    report = await ResealSecrets(uow=h.store.unit_of_work, secrets=rotated)()
    assert report.resealed == 2 and report.unreadable == []

    # Now the new key alone opens everything, the old one nothing.
    only_new, only_old = AesGcmSecretBox(new_key), AesGcmSecretBox(KEY)
    async with h.store.unit_of_work() as uow:
        stored = await uow.deployments.get(first)
        assert (await uow.deployments.get(second)) is not None
    assert stored is not None and stored.webhook_secret is not None
    opened = {k: only_new.decrypt(v) for k, v in stored.environment_variables.items()}
    assert opened == {"TOKEN": "t-1", "OTHER": "o-1"}
    assert only_new.decrypt(stored.webhook_secret) == first_secret
    with pytest.raises(ValidationFailed):
        only_old.decrypt(stored.environment_variables["TOKEN"])


async def test_reseal_names_values_no_key_opens_and_keeps_them(h: Harness):
    deployment_id, _ = await deployed(h, TOKEN="t-1")
    async with h.store.unit_of_work() as uow:
        before = await uow.deployments.get(deployment_id)
    lost = AesGcmSecretBox(bytes(32))  # the old key was not given: nothing opens
    report = await ResealSecrets(uow=h.store.unit_of_work, secrets=lost)()
    assert sorted(name for _, name in report.unreadable) == ["@webhook", "TOKEN"]
    async with h.store.unit_of_work() as uow:
        after = await uow.deployments.get(deployment_id)
    assert after == before  # left exactly as they were, still open to the right key
