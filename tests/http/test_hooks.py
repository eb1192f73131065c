"""``POST /hooks/{deploymentId}`` through HTTP on both stores: signed webhooks start the
deployment's workflow; bad, stale or unknown ones are refused alike (SPEC §3)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest

from tests.databases import REDIS_URL
from tests.http.conftest import API, assert_error
from tests.http.resources import API_STORES, Api, Person, make_api
from tests.http.test_deployments import (
    DEPLOYMENTS,
    act,
    change,
    create,
    events,
    in_app,
    make_agent,
    open_dapi,
    read,
)
from turbocat_core.domain.workflow import WorkflowStatus
from turbocat_core.usecases.webhooks import sign_webhook

HOOKS = f"{API}/hooks"


@pytest.fixture(params=API_STORES)
async def dapi(request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    async with open_dapi(request.param, dsn) as started:
        yield started


async def running(api: Api, owner: Person, **body: Any) -> tuple[str, str]:
    """(deployment id, webhook secret) of a RUNNING deployment."""
    created = await create(api, owner, **body)
    deployment_id = created["deployment"]["id"]
    assert (await act(api, owner, deployment_id, "start")).status_code == 200
    return deployment_id, created["webhookSecret"]


async def send(
    api: Api,
    deployment_id: str,
    secret: str,
    body: bytes = b'{"items": [1, 1, 2]}',
    *,
    timestamp: int | None = None,
    signature: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    sent = {
        "Content-Type": "application/json",
        "X-Turbocat-Timestamp": stamp,
        "X-Turbocat-Signature": signature or sign_webhook(secret, stamp, body),
        **(headers or {}),
    }
    return await api.client.post(f"{HOOKS}/{deployment_id}", content=body, headers=sent)


async def test_a_signed_webhook_starts_the_workflow(dapi: Api):
    ada = await dapi.user()
    deployment_id, secret = await running(dapi, ada)
    response = await send(dapi, deployment_id, secret)
    assert response.status_code == 202, response.text
    execution = response.json()["data"]
    assert execution["triggerType"] == "WEBHOOK"
    assert execution["inputData"] == {"items": [1, 1, 2]}
    assert execution["deploymentId"] == deployment_id
    assert execution["userId"] == str(ada.id)
    assert execution["triggerData"]["deploymentId"] == deployment_id
    # Times inside payloads read like the fields around them: UTC, ending in Z.
    assert execution["triggerData"]["receivedAt"].endswith("Z")
    assert execution["createdAt"].endswith("Z")
    in_app(dapi, dapi.container.queue().drain)
    finished = await read(dapi, "executions", execution["id"])
    assert finished is not None and finished.status == "COMPLETED", finished
    assert finished.output_data == {"dedupe": [1, 2]}

    received = (await events(dapi, ada, deployment_id, "?action=deployment.webhook_received"))[
        "data"
    ]
    assert len(received) == 1
    assert received[0]["metadata"] == {"bodyBytes": 20, "executionId": execution["id"]}
    assert received[0]["userId"] == str(ada.id)
    assert "items" not in json.dumps(received)  # never the body


async def test_a_body_that_is_not_an_object_is_wrapped(dapi: Api):
    ada = await dapi.user()
    deployment_id, secret = await running(dapi, ada)
    for body, inputs in (
        (b"", {}),
        (b"[1, 2]", {"body": [1, 2]}),
        (b'"text"', {"body": "text"}),
        (b"null", {"body": None}),
    ):
        response = await send(dapi, deployment_id, secret, body)
        assert response.status_code == 202, response.text
        assert response.json()["data"]["inputData"] == inputs


async def test_bad_signatures_and_unknown_deployments_get_the_same_answer(dapi: Api):
    ada = await dapi.user()
    deployment_id, secret = await running(dapi, ada)
    other_id, other_secret = await running(dapi, ada)
    body = b'{"a": 1}'
    stamp = int(time.time())
    good = sign_webhook(secret, stamp, body)
    answers = [
        await send(dapi, deployment_id, secret, body, signature="sha256=" + "0" * 64),
        await send(dapi, deployment_id, secret, body, signature=good.removeprefix("sha256=")),
        # one hex digit changed (upper case alone would still be the right signature)
        await send(
            dapi,
            deployment_id,
            secret,
            body,
            signature=good.upper()[:-1] + ("1" if good[-1] == "0" else "0"),
        ),
        await send(dapi, deployment_id, other_secret, body),  # another deployment's secret
        await send(dapi, other_id, secret, body),
        await send(dapi, deployment_id, secret, body, signature=sign_webhook(secret, stamp, b"")),
        await send(dapi, str(uuid4()), secret, body),
        await send(dapi, "not-a-uuid", secret, body),
        # the signature of another timestamp
        await send(dapi, deployment_id, secret, body, timestamp=stamp + 1, signature=good),
    ]
    messages = {assert_error(answer, 401, "UNAUTHORIZED")["message"] for answer in answers}
    assert len(messages) == 1, messages
    missing = await dapi.client.post(f"{HOOKS}/{deployment_id}", content=body)
    assert_error(missing, 401, "UNAUTHORIZED")
    # Nothing started and nothing was recorded for refused requests.
    logged = await events(dapi, ada, deployment_id, "?action=deployment.webhook_received")
    assert logged["data"] == []


async def test_stale_or_future_timestamps_are_refused(dapi: Api):
    ada = await dapi.user()
    deployment_id, secret = await running(dapi, ada)
    for offset in (-301, 301, -10_000):
        response = await send(dapi, deployment_id, secret, timestamp=int(time.time()) + offset)
        assert_error(response, 401, "UNAUTHORIZED")
    for bad in ("soon", "-5", "1e9", ""):
        refused = await send(dapi, deployment_id, secret, headers={"X-Turbocat-Timestamp": bad})
        assert_error(refused, 401, "UNAUTHORIZED")


async def test_only_a_running_workflow_deployment_accepts_webhooks(dapi: Api):
    ada = await dapi.user()
    created = await create(dapi, ada)
    deployment_id, secret = created["deployment"]["id"], created["webhookSecret"]
    error = assert_error(await send(dapi, deployment_id, secret), 409, "INVALID_STATE")
    assert "STOPPED" in error["message"]
    await act(dapi, ada, deployment_id, "start")
    await act(dapi, ada, deployment_id, "stop")
    assert_error(await send(dapi, deployment_id, secret), 409, "INVALID_STATE")

    agent_id, agent_secret = await running(dapi, ada, agentId=str((await make_agent(dapi, ada)).id))
    error = assert_error(await send(dapi, agent_id, agent_secret), 409, "INVALID_STATE")
    assert "agent" in error["message"]
    # Refusals past the signature are in the deployment's log, with the reason.
    logged = await events(dapi, ada, deployment_id, "?action=deployment.webhook_received")
    assert len(logged["data"]) == 2
    assert "STOPPED" in logged["data"][0]["metadata"]["error"]


async def test_a_body_that_is_not_json_is_refused_after_the_signature(dapi: Api):
    ada = await dapi.user()
    deployment_id, secret = await running(dapi, ada)
    for body in (b"{not json", b"\xff\xfe", b"NaN", b"[" * 100_000):
        error = assert_error(await send(dapi, deployment_id, secret, body), 400, "VALIDATION_ERROR")
        assert error["details"] == [{"field": "body", "message": "must be JSON"}]
    assert_error(
        await send(dapi, deployment_id, secret, b"{not json", signature="sha256=" + "1" * 64),
        401,
        "UNAUTHORIZED",
    )


async def test_a_deleted_deployment_is_unknown(dapi: Api):
    ada = await dapi.user()
    deployment_id, secret = await running(dapi, ada)
    deleted = await dapi.client.delete(f"{DEPLOYMENTS}/{deployment_id}", headers=ada.headers)
    assert deleted.status_code == 204
    assert_error(await send(dapi, deployment_id, secret), 401, "UNAUTHORIZED")


async def test_a_workflow_that_cannot_run_is_an_invalid_state(dapi: Api):
    ada = await dapi.user()
    deployment_id, secret = await running(dapi, ada)
    deployment = await read(dapi, "deployments", deployment_id)
    workflow = await read(dapi, "workflows", deployment.workflow_id)
    await change(dapi, "workflows", dataclasses.replace(workflow, status=WorkflowStatus.INACTIVE))
    error = assert_error(await send(dapi, deployment_id, secret), 409, "INVALID_STATE")
    assert "ACTIVE" in error["message"]


async def _runs(api: Api, owner: Person, deployment_id: str) -> int:
    """How many executions the deployment's workflow has."""
    deployment = await read(api, "deployments", deployment_id)
    listing = await api.client.get(
        f"{API}/workflows/{deployment.workflow_id}/executions", headers=owner.headers
    )
    assert listing.status_code == 200, listing.text
    return int(listing.json()["meta"]["total"])


async def test_a_replayed_request_is_409_and_starts_nothing(dapi: Api):
    """Issue 11, item 7: the identical request sent twice started two executions."""
    ada = await dapi.user()
    deployment_id, secret = await running(dapi, ada)
    body, stamp = b'{"items": [3]}', int(time.time())
    signature = sign_webhook(secret, stamp, body)
    first = await send(dapi, deployment_id, secret, body, timestamp=stamp, signature=signature)
    assert first.status_code == 202, first.text
    for again in (signature, signature.upper().replace("SHA256=", "sha256=")):
        replay = await send(dapi, deployment_id, secret, body, timestamp=stamp, signature=again)
        error = assert_error(replay, 409, "CONFLICT")
        assert "already accepted" in error["message"]
    assert await _runs(dapi, ada, deployment_id) == 1

    # Another body or another timestamp, validly signed, is another request.
    assert (
        await send(dapi, deployment_id, secret, b'{"items": [4]}', timestamp=stamp)
    ).status_code == 202
    assert (await send(dapi, deployment_id, secret, body, timestamp=stamp - 1)).status_code == 202
    assert await _runs(dapi, ada, deployment_id) == 3
    # The replays are in the deployment's log, as refusals.
    logged = await events(dapi, ada, deployment_id, "?action=deployment.webhook_received")
    errors = [entry["metadata"].get("error") for entry in logged["data"]]
    assert sum(1 for error in errors if error and "already accepted" in error) == 2


async def test_identical_concurrent_requests_start_one_run(dapi: Api):
    ada = await dapi.user()
    deployment_id, secret = await running(dapi, ada)
    body, stamp = b'{"items": [5]}', int(time.time())
    answers = await asyncio.gather(
        *(send(dapi, deployment_id, secret, body, timestamp=stamp) for _ in range(6))
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [202, 409, 409, 409, 409, 409], [a.text for a in answers]
    assert await _runs(dapi, ada, deployment_id) == 1


async def test_a_request_refused_before_it_ran_may_come_again(dapi: Api):
    """Only accepted requests are remembered: one refused because the workflow could not
    run is accepted once it can."""
    ada = await dapi.user()
    deployment_id, secret = await running(dapi, ada)
    deployment = await read(dapi, "deployments", deployment_id)
    workflow = await read(dapi, "workflows", deployment.workflow_id)
    await change(dapi, "workflows", dataclasses.replace(workflow, status=WorkflowStatus.INACTIVE))
    stamp = int(time.time())
    assert_error(await send(dapi, deployment_id, secret, timestamp=stamp), 409, "INVALID_STATE")
    await change(dapi, "workflows", workflow)
    assert (await send(dapi, deployment_id, secret, timestamp=stamp)).status_code == 202
    assert_error(await send(dapi, deployment_id, secret, timestamp=stamp), 409, "CONFLICT")


async def test_with_redis_the_accepted_requests_are_remembered_there(redis_keys):
    """In a fleet every API process must agree, so the signatures live in Redis."""
    import redis

    fleet = {"redis_url": REDIS_URL, "redis_prefix": redis_keys}
    async with make_api("memory", **fleet) as api:
        ada = await api.user()
        deployment_id, secret = await running(api, ada)
        stamp = int(time.time())
        assert (await send(api, deployment_id, secret, timestamp=stamp)).status_code == 202
        assert_error(await send(api, deployment_id, secret, timestamp=stamp), 409, "CONFLICT")
    with redis.Redis.from_url(REDIS_URL) as client:
        kept = list(client.scan_iter(match=f"{redis_keys}:replay:webhook:{deployment_id}:*"))
        assert len(kept) == 1
        assert 0 < client.pttl(kept[0]) <= 600_000
