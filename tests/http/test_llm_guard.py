"""LLM agents over HTTP behind the SSRF guard (issue 11): a ``baseUrl`` to an internal address
is refused unless the operator allows it, and an internal server's failure is never quoted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.fakes.llm_servers import FakeOpenAI, Scripted
from tests.http.conftest import API
from tests.http.resources import API_STORES, Api, Person, make_api
from tests.http.test_workflows_support import create_workflow, execute, step, wait_until

SECRET = "redis-admin-password-hunter2"


@asynccontextmanager
async def app(request: pytest.FixtureRequest, **settings: Any) -> AsyncIterator[Api]:
    kind = request.param
    dsn = request.getfixturevalue("postgres_dsn") if kind == "postgres" else None
    async with make_api(kind, postgres_dsn=dsn, **settings) as api:
        try:
            yield api
        finally:
            api.in_app(api.container.queue().close)


@pytest.fixture(params=API_STORES)
async def strict(request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    """The default settings: the guard refuses every non-public address."""
    async with app(request) as api:
        yield api


@pytest.fixture(params=API_STORES)
async def allowing(request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    """An operator who runs a model server on this machine and lists it."""
    async with app(request, http_allowed_hosts=("127.0.0.1",)) as api:
        yield api


async def run_llm(api: Api, owner: Person, base_url: str) -> dict[str, Any]:
    """An ``openai-compatible`` agent at ``base_url`` in a one-step workflow, run to its end."""
    config = {"provider": "openai-compatible", "baseUrl": base_url, "model": "m", "prompt": "hi"}
    created = await api.client.post(
        f"{API}/agents",
        json={"name": "local", "type": "LLM", "config": config},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    workflow = await create_workflow(api, owner, [step("ask", created.json()["data"]["id"])])
    started = await execute(api, owner, workflow["id"])
    return await wait_until(api, owner, started["id"], timeout=60)


async def test_a_base_url_to_loopback_is_refused_and_nothing_is_sent(strict: Api):
    ada = await strict.user()
    with FakeOpenAI(api_key=None) as internal:
        internal.script(Scripted(200, FakeOpenAI.completion(SECRET)))
        execution = await run_llm(strict, ada, f"{internal.url}/v1")
        assert internal.requests == []
    assert execution["status"] == "FAILED"
    (run,) = execution["stepRuns"]
    assert run["error"] == (
        "refused: 127.0.0.1 is a loopback address (SSRF guard); set "
        "TURBOCAT_HTTP_ALLOW_PRIVATE=true or list the host in TURBOCAT_HTTP_ALLOWED_HOSTS "
        "to allow it"
    )
    assert run["attempt"] == 1
    assert SECRET not in str(execution)


async def test_an_allowed_model_server_answers_and_its_failures_are_not_quoted(allowing: Api):
    ada = await allowing.user()
    with FakeOpenAI(api_key=None, reply_text="local answer") as ollama:
        done = await run_llm(allowing, ada, f"{ollama.url}/v1")
        assert done["status"] == "COMPLETED", done
        assert done["outputData"]["ask"]["text"] == "local answer"

        retry_now = {"Retry-After": "0"}  # the client's own retries, without waiting
        ollama.script(*[Scripted(500, {"error": {"message": SECRET}}, retry_now)] * 4)
        failed = await run_llm(allowing, ada, f"{ollama.url}/v1")
    assert failed["status"] == "FAILED"
    (run,) = failed["stepRuns"]
    assert run["error"].startswith(f"OpenAI-compatible API at {ollama.url} answered HTTP 500")
    assert run["error"].endswith("body not shown: the answer came from a non-public address")
    assert SECRET not in str(failed)
