"""FUNCTION agents over HTTP on a server with functions (``TURBOCAT_FUNCTIONS``): a name it
registered is saved and runs; any other is a 400 naming it; nothing a request carries makes
the server import a module."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.function_modules import Steps, write_module, write_steps
from tests.http.conftest import API, assert_error
from tests.http.resources import Api, Person, make_api
from tests.http.test_workflows_support import (
    WORKFLOWS,
    create_workflow,
    execute,
    in_app_loop,
    step,
    wait_until,
)

AGENTS = f"{API}/agents"
STORES = ["memory", "postgres"]


@pytest.fixture(params=STORES)
async def world(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Api, Steps]]:
    monkeypatch.syspath_prepend(str(tmp_path))
    steps = write_steps(tmp_path)
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    async with make_api(request.param, postgres_dsn=dsn, functions=(steps.module,)) as api:
        try:
            yield api, steps
        finally:
            in_app_loop(api, api.container.queue().close)


async def function_agent(api: Api, who: Person, name: str) -> str:
    body = {"name": name, "type": "FUNCTION", "config": {"function": name}}
    created = await api.client.post(AGENTS, json=body, headers=who.headers)
    assert created.status_code == 201, created.text
    assert created.json()["data"]["config"] == {"function": name}
    return str(created.json()["data"]["id"])


async def test_a_registered_function_is_saved_and_runs(world):
    api, steps = world
    ada = await api.user()
    double = await function_agent(api, ada, steps.double)
    total = await function_agent(api, ada, steps.total)
    workflow = await create_workflow(
        api,
        ada,
        [
            step("twice", double, inputs={"n": "{{inputs.n}}"}),
            step("sum", total, inputs={"values": "{{inputs.values}}"}, dependsOn=["twice"]),
        ],
    )
    started = await execute(api, ada, workflow["id"], {"inputs": {"n": 21, "values": [1, 2, 3]}})
    done = await wait_until(api, ada, started["id"])
    assert done["status"] == "COMPLETED", done
    assert done["outputData"] == {
        "twice": {"n": 42, "attempt": 1},
        "sum": {"sum": 6, "step": "sum"},
    }
    logs = await api.client.get(f"{API}/executions/{started['id']}/logs", headers=ada.headers)
    lines = [(line["stepKey"], line["message"]) for line in logs.json()["data"]]
    assert ("sum", "adding 3 values") in lines


async def test_a_name_the_server_has_not_registered_is_refused_naming_it(world):
    api, steps = world
    ada = await api.user()
    missing = f"missing_{uuid.uuid4().hex[:8]}"
    body = {"name": "m", "type": "FUNCTION", "config": {"function": missing}}
    error = assert_error(
        await api.client.post(AGENTS, json=body, headers=ada.headers), 400, "VALIDATION_ERROR"
    )
    (detail,) = error["details"]
    assert detail["field"] == "config.function"
    assert missing in detail["message"]
    # Patching a saved FUNCTION agent to name it is refused too, and changes nothing.
    agent = await function_agent(api, ada, steps.double)
    patched = await api.client.patch(
        f"{AGENTS}/{agent}", json={"config": {"function": missing}}, headers=ada.headers
    )
    assert_error(patched, 400, "VALIDATION_ERROR")
    kept = await api.client.get(f"{AGENTS}/{agent}", headers=ada.headers)
    assert kept.json()["data"]["config"] == {"function": steps.double}


SENTINEL = """
import os
from pathlib import Path

Path(os.environ["SENTINEL_MARK"]).write_text("imported")


def run(inputs, ctx):
    return {}
"""


async def test_nothing_a_request_carries_makes_the_server_import_a_module(
    world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A module the server could import (on its path, never named in its settings) is named
    every way a request can: as a function, a dotted path, ``module:attr``, an extra config
    field, in an imported workflow file (its agents or its steps' ``function``). Each is
    refused, and the module was never loaded."""
    api, steps = world
    ada = await api.user()
    mark = tmp_path / "sentinel-imported"
    monkeypatch.setenv("SENTINEL_MARK", str(mark))
    sentinel = write_module(tmp_path, f"sentinel_{uuid.uuid4().hex[:8]}", SENTINEL)
    agent = await function_agent(api, ada, steps.double)
    configs: list[dict[str, Any]] = [
        {"function": name}
        for name in (sentinel, f"{sentinel}.run", f"{sentinel}:run", "os.system", "os")
    ]
    configs += [
        {"function": steps.double, "module": sentinel},
        {"function": sentinel, "module": sentinel},
    ]
    for config in configs:
        body = {"name": "x", "type": "FUNCTION", "config": config}
        created = await api.client.post(AGENTS, json=body, headers=ada.headers)
        assert_error(created, 400, "VALIDATION_ERROR")
        patched = await api.client.patch(
            f"{AGENTS}/{agent}", json={"config": config}, headers=ada.headers
        )
        assert_error(patched, 400, "VALIDATION_ERROR")
        document = {
            "name": "imported",
            "agents": {"f": {"type": "FUNCTION", "config": config}},
            "steps": [{"stepKey": "s", "agent": "f"}],
        }
        imported = await api.client.post(f"{WORKFLOWS}/import", json=document, headers=ada.headers)
        error = assert_error(imported, 400, "VALIDATION_ERROR")
        assert any(d["field"].startswith("agents.f.config") for d in error["details"]), error
    for name in (sentinel, f"{sentinel}.run", f"{sentinel}:run"):  # the steps' shorthand
        document = {"name": "short", "steps": [{"stepKey": "s", "function": name}]}
        imported = await api.client.post(f"{WORKFLOWS}/import", json=document, headers=ada.headers)
        assert_error(imported, 400, "VALIDATION_ERROR")
    assert sentinel not in sys.modules
    assert not mark.exists()
