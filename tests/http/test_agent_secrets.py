"""Another user's public agent never receives a deployment's secrets, and an agent other
users' workflows use is pinned (issue 11, item 1), through HTTP on both stores.

User A publishes agents that call servers A controls (a local recording server, a fake
OpenAI); user B uses them in a workflow behind a RUNNING deployment holding secrets and
runs it with a signed webhook.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.fakes.llm_servers import FakeOpenAI
from tests.http.conftest import API, assert_error
from tests.http.resources import API_STORES, Api, Person, make_api
from turbocat_core.usecases.webhooks import sign_webhook

SECRET = "b-db-password-7f3a9c"
B_KEY = "sk-b-openai-key-4d2e8a"


@dataclass
class Recorder:
    """A server on 127.0.0.1 that answers 200 to anything and keeps every request."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)

    def everything(self) -> str:
        return json.dumps(self.received)


@contextmanager
def recording_server() -> Iterator[Recorder]:
    recorder = Recorder()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            with lock:
                recorder.received.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
            payload = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _record

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class World:
    api: Api
    a: Person  # publishes agents
    b: Person  # uses them behind a deployment with secrets
    server: Recorder
    openai: FakeOpenAI


@pytest.fixture(params=API_STORES)
async def world(request: pytest.FixtureRequest) -> AsyncIterator[World]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    with recording_server() as server, FakeOpenAI(api_key=None) as openai:
        # 127.0.0.1 is allowed as an operator allows a local service; the guard stays on.
        async with make_api(
            request.param, postgres_dsn=dsn, http_allowed_hosts=("127.0.0.1",)
        ) as api:
            a = await api.user("a@example.com")
            b = await api.user("b@example.com")
            yield World(api, a, b, server, openai)
            api.in_app(api.container.queue().drain)


async def agent(w: World, who: Person, config: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {"name": "weather", "type": "API", "status": "ACTIVE", "config": config, **fields}
    created = await w.api.client.post(f"{API}/agents", json=body, headers=who.headers)
    assert created.status_code == 201, created.text
    return created.json()["data"]  # type: ignore[no-any-return]


def api_call(w: World, body: Any) -> dict[str, Any]:
    return {"method": "POST", "url": f"{w.server.url}/collect", "body": body}


async def deployed(w: World, steps: list[dict[str, Any]], **variables: str) -> tuple[str, str]:
    """B's ACTIVE workflow of ``steps`` behind B's RUNNING deployment holding ``variables``:
    (deployment id, webhook secret)."""
    client, headers = w.api.client, w.b.headers
    workflow = await client.post(
        f"{API}/workflows",
        json={"name": "b's flow", "status": "ACTIVE", "steps": steps},
        headers=headers,
    )
    assert workflow.status_code == 201, workflow.text
    created = await client.post(
        f"{API}/deployments",
        json={
            "name": "prod",
            "workflowId": workflow.json()["data"]["id"],
            "environmentVariables": variables or {"DB_PASSWORD": SECRET},
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    deployment_id = created.json()["data"]["deployment"]["id"]
    started = await client.post(f"{API}/deployments/{deployment_id}/start", headers=headers)
    assert started.status_code == 200, started.text
    return deployment_id, created.json()["data"]["webhookSecret"]


async def hook(w: World, deployment: tuple[str, str]) -> Any:
    """The signed webhook of ``deployment`` (B's inputs ``{"city": "Paris"}``)."""
    deployment_id, secret = deployment
    body = b'{"city": "Paris"}'
    stamp = str(int(time.time()))
    return await w.api.client.post(
        f"{API}/hooks/{deployment_id}",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Turbocat-Timestamp": stamp,
            "X-Turbocat-Signature": sign_webhook(secret, stamp, body),
        },
    )


async def run(w: World, deployment: tuple[str, str]) -> dict[str, Any]:
    """Start a run through the signed webhook; the finished execution."""
    sent = await hook(w, deployment)
    assert sent.status_code == 202, sent.text
    w.api.in_app(w.api.container.queue().drain)
    found = await w.api.client.get(
        f"{API}/executions/{sent.json()['data']['id']}", headers=w.b.headers
    )
    assert found.status_code == 200, found.text
    return found.json()["data"]  # type: ignore[no-any-return]


# --- the attack: a public agent changed under its users ---------------------------------


async def test_a_used_public_agent_cannot_be_changed_to_read_its_users_secrets(world: World):
    w = world
    weather = await agent(w, w.a, api_call(w, {"city": "{{inputs.city}}"}), isPublic=True)
    url = f"{API}/agents/{weather['id']}"
    deployment = await deployed(w, [{"stepKey": "weather", "agentId": weather["id"], "inputs": {}}])

    stolen = api_call(w, {"city": "{{inputs.city}}", "stolen": "{{env.DB_PASSWORD}}"})
    refused = await w.api.client.patch(url, json={"config": stolen}, headers=w.a.headers)
    error = assert_error(refused, 409, "CONFLICT")
    assert "used by another user's workflow" in error["message"]
    assert "duplicate" in error["message"].lower()
    for change in ({"maxExecutionTime": 5}, {"isPublic": False}, {"status": "ARCHIVED"}):
        response = await w.api.client.patch(url, json=change, headers=w.a.headers)
        assert_error(response, 409, "CONFLICT")
    assert_error(await w.api.client.delete(url, headers=w.a.headers), 409, "CONFLICT")
    # What does not change what runs may still change.
    renamed = await w.api.client.patch(
        url,
        json={"name": "weather (stable)", "description": "v1", "tags": ["x"]},
        headers=w.a.headers,
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["data"]["config"] == weather["config"]

    execution = await run(w, deployment)
    assert execution["status"] == "COMPLETED", execution
    assert [json.loads(r["body"]) for r in w.server.received] == [{"city": "Paris"}]
    assert SECRET not in w.server.everything()

    # A's way forward: a new version, which B adopts by pointing the step at it.
    copy = await w.api.client.post(f"{url}/duplicate", json={}, headers=w.a.headers)
    assert copy.status_code == 201, copy.text
    assert copy.json()["data"]["version"] == 2
    changed = await w.api.client.patch(
        f"{API}/agents/{copy.json()['data']['id']}",
        json={"config": api_call(w, {"v": 2}), "isPublic": True},
        headers=w.a.headers,
    )
    assert changed.status_code == 200, changed.text


async def test_an_agent_no_other_user_uses_changes_freely(world: World):
    w = world
    mine = await agent(w, w.a, api_call(w, {}), isPublic=True)
    url = f"{API}/agents/{mine['id']}"
    for change in ({"config": api_call(w, {"x": 1})}, {"isPublic": False}):
        response = await w.api.client.patch(url, json=change, headers=w.a.headers)
        assert response.status_code == 200, response.text
    assert (await w.api.client.delete(url, headers=w.a.headers)).status_code == 204


async def test_another_users_agent_that_references_env_fails_the_run_and_gets_nothing(
    world: World,
):
    w = world
    greedy = await agent(w, w.a, api_call(w, {"stolen": "{{env.DB_PASSWORD}}"}), isPublic=True)
    for steps in (
        [{"stepKey": "weather", "agentId": greedy["id"]}],
        [
            {
                "stepKey": "each",
                "stepType": "LOOP",
                "config": {"items": [1, 2], "agentId": greedy["id"], "inputs": {}},
            }
        ],
    ):
        execution = await run(w, await deployed(w, steps))
        assert execution["status"] == "FAILED", execution
        message = execution["errorMessage"]
        assert "'weather'" in message and greedy["id"] in message
        assert "belongs to another user" in message
        assert "deployment variables are only given to their owner's own agents" in message
        assert "step input" in message
    assert w.server.received == []


async def test_the_owners_agents_and_step_inputs_still_read_the_variables(world: World):
    w = world
    foreign = await agent(w, w.a, api_call(w, {"from": "a"}), isPublic=True)
    own = await agent(w, w.b, {**api_call(w, "own"), "headers": {"X-Pass": "{{env.DB_PASSWORD}}"}})
    steps = [
        {"stepKey": "own", "agentId": own["id"]},
        {  # B chose to hand the value to A's agent: an explicit step input
            "stepKey": "given",
            "agentId": foreign["id"],
            "inputs": {"body": {"password": "{{env.DB_PASSWORD}}"}},
            "dependsOn": ["own"],
        },
    ]
    execution = await run(w, await deployed(w, steps))
    assert execution["status"] == "COMPLETED", execution
    own_request, given_request = w.server.received
    assert own_request["headers"]["X-Pass"] == SECRET
    assert json.loads(given_request["body"]) == {"from": "a", "password": SECRET}


async def test_a_child_workflow_of_a_deployment_run_keeps_the_rule(world: World):
    w = world
    greedy = await agent(w, w.a, api_call(w, {"stolen": "{{env.DB_PASSWORD}}"}), isPublic=True)
    child = await w.api.client.post(
        f"{API}/workflows",
        json={
            "name": "child",
            "status": "ACTIVE",
            "steps": [{"stepKey": "c", "agentId": greedy["id"]}],
        },
        headers=w.b.headers,
    )
    assert child.status_code == 201, child.text
    caller = await agent(
        w, w.b, {"workflowId": child.json()["data"]["id"]}, type="WORKFLOW", name="call child"
    )
    execution = await run(w, await deployed(w, [{"stepKey": "p", "agentId": caller["id"]}]))
    assert execution["status"] == "FAILED", execution
    assert "belongs to another user" in execution["errorMessage"]
    assert w.server.received == []


async def test_an_admin_may_take_down_a_used_agent_and_its_users_runs_stop(world: World):
    w = world
    weather = await agent(w, w.a, api_call(w, {}), isPublic=True)
    deployment = await deployed(w, [{"stepKey": "weather", "agentId": weather["id"]}])
    admin = await w.api.admin()
    gone = await w.api.client.delete(f"{API}/agents/{weather['id']}", headers=admin.headers)
    assert gone.status_code == 204, gone.text
    # Its users' runs no longer start, saying why (a run already queued fails at the step:
    # tests/core/engine/test_secrets.py).
    refused = assert_error(await hook(w, deployment), 409, "INVALID_STATE")
    assert weather["id"] in refused["message"]
    assert w.server.received == []


# --- the LLM agent's key lookup ---------------------------------------------------------


async def test_another_users_llm_agent_never_gets_the_deployments_key(world: World):
    w = world
    config = {
        "provider": "openai-compatible",
        "baseUrl": w.openai.url,
        "model": "local-model",
        "prompt": "Say hello to {{inputs.city}}.",
    }
    foreign = await agent(w, w.a, config, type="LLM", name="chat", isPublic=True)
    own = await agent(w, w.b, config, type="LLM", name="chat")
    steps = [
        {"stepKey": "foreign", "agentId": foreign["id"]},
        {"stepKey": "own", "agentId": own["id"], "dependsOn": ["foreign"]},
    ]
    execution = await run(w, await deployed(w, steps, OPENAI_API_KEY=B_KEY))
    assert execution["status"] == "COMPLETED", execution
    to_foreign, to_own = w.openai.requests
    assert "authorization" not in to_foreign.headers  # keyless, as for a local model server
    assert B_KEY not in repr(to_foreign)
    assert to_own.headers["authorization"] == f"Bearer {B_KEY}"  # B's own agent: B's key
