"""The client openapi-python-client generates from /openapi.json is one a user can read: short
unique operation ids, named envelopes, optional bodies optional, free-form JSON as objects.
The slow test generates it in a throw-away environment and drives a real server with it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from uv import find_uv_bin

from tests.cli.test_serve import server
from tests.http.conftest import container_for, http_settings
from turbocat_http.app import create_app

GENERATOR = "openapi-python-client==0.29.1"
TOUR = Path(__file__).with_name("generated_client_tour.py")
FREE_FORM = {"type": "object", "additionalProperties": {}}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """The document of the API as served: its own routes only."""
    return create_app(container_for(http_settings())).openapi_schema.to_schema()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def test_every_operation_has_a_short_unique_camel_case_id(spec):
    ids = [operation["operationId"] for _, _, operation in _operations(spec)]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert re.fullmatch(r"[a-z][A-Za-z0-9]*", operation_id), operation_id
    paths = spec["paths"]
    assert paths["/api/v1/workflows/{workflow_id}/execute"]["post"]["operationId"] == (
        "executeWorkflow"
    )
    assert paths["/api/v1/auth/login"]["post"]["operationId"] == "login"
    assert paths["/api/v1/agents"]["get"]["operationId"] == "listAgents"
    assert paths["/api/v1/agents/{agent_id}"]["get"]["operationId"] == "getAgent"


def test_envelopes_are_named_schemas(spec):
    schemas = spec["components"]["schemas"]
    for name, schema in schemas.items():
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", name), name
        assert not re.search(r"Envelope_?[a-z]", name), name
        assert schema.get("title", name) == name
    assert {"AgentEnvelope", "AgentPage", "WorkflowPage", "ExecutionEnvelope"} <= set(schemas)
    page = schemas["AgentPage"]
    assert page["properties"]["data"]["items"] == {"$ref": "#/components/schemas/Agent"}
    assert page["properties"]["meta"] == {"$ref": "#/components/schemas/PageMeta"}
    listed = spec["paths"]["/api/v1/agents"]["get"]["responses"]["200"]
    assert listed["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AgentPage"
    }
    exported = schemas["WorkflowFileEnvelope"]["properties"]["data"]
    assert exported == FREE_FORM


def test_bodies_the_api_does_without_are_not_required(spec):
    optional = {
        (method, path)
        for method, path, operation in _operations(spec)
        if "requestBody" in operation and not operation["requestBody"].get("required", False)
    }
    assert optional == {
        ("post", "/api/v1/workflows/{workflow_id}/execute"),
        ("post", "/api/v1/executions/{execution_id}/retry"),
        ("post", "/api/v1/agents/{agent_id}/duplicate"),
        ("post", "/api/v1/templates/{template_id}/instantiate"),
    }
    execute = spec["paths"]["/api/v1/workflows/{workflow_id}/execute"]["post"]
    assert execute["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ExecuteIn"
    }
    login = spec["paths"]["/api/v1/auth/login"]["post"]
    assert login["requestBody"]["required"] is True


def test_free_form_json_is_a_plain_object(spec):
    schemas = spec["components"]["schemas"]

    def plain(schema: dict[str, Any]) -> bool:
        return schema == FREE_FORM or schema.get("oneOf") == [FREE_FORM, {"type": "null"}]

    for owner, field in [
        ("Agent", "config"),
        ("AgentCreateIn", "config"),
        ("ExecuteIn", "inputs"),
        ("ExecuteIn", "metadata"),
        ("Execution", "inputData"),
        ("Execution", "outputData"),
        ("ExecutionLog", "metadata"),
        ("WorkflowIn", "definition"),
        ("StepIn", "config"),
    ]:
        assert plain(schemas[owner]["properties"][field]), (owner, field)


def _run(*command: str | Path, env: dict[str, str], cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_generated_client_drives_a_real_server(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["UV_CACHE_DIR"] = str(tmp_path / "uv-cache")  # nothing kept outside tmp_path
    uv, venv = find_uv_bin(), tmp_path / "venv"
    python = venv / "bin" / "python"
    _run(uv, "venv", "--quiet", "--python", sys.executable, venv, env=env)
    _run(uv, "pip", "install", "--quiet", "--python", python, GENERATOR, env=env)
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")  # no ruff run on the output
    with server(tmp_path / "data", TURBOCAT_DATABASE_URL="memory://") as base:
        document = httpx.get(f"{base}/api/v1/openapi.json", timeout=30)
        assert document.status_code == 200
        (tmp_path / "openapi.json").write_text(json.dumps(document.json()))
        _run(
            venv / "bin" / "openapi-python-client",
            "generate",
            "--path=openapi.json",
            "--config=config.yaml",
            "--meta=uv",
            "--fail-on-warning",
            env=env,
            cwd=tmp_path,
        )
        client = tmp_path / "turbocat-client"
        modules = {p.stem for p in (client / "turbocat_client" / "api").rglob("*.py")}
        assert {"execute_workflow", "login", "list_agents", "get_agent"} <= modules
        assert not [m for m in modules if m.startswith("api_v1")]
        models = {p.stem for p in (client / "turbocat_client" / "models").glob("*.py")}
        assert {"agent_page", "execution_envelope", "workflow_file_envelope"} <= models
        assert not [m for m in models if re.match(r"envelope_?(dict|list)", m)]
        _run(uv, "pip", "install", "--quiet", "--python", python, client, "httpx", env=env)
        out = _run(python, TOUR, base, env=env).splitlines()
    assert out[:4] == [
        "logged in: ada@example.com",
        "agent: adults DATA",
        "workflow: grown-ups 1 step",
        "execution: COMPLETED {'adults': [{'name': 'Ada', 'age': 36}]}",
    ]
    assert out[4] == f"logs: {len(out) - 5} lines"
    logs = out[5:]
    assert "log: INFO adults step 'adults' started" in logs
    assert logs[-1].startswith("log: INFO - execution completed")
