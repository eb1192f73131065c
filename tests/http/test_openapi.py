"""The OpenAPI document: served under /api/v1, errors and security documented per route."""

from __future__ import annotations

import re

import pytest

from tests.http.conftest import API

ERROR_REF = "#/components/schemas/ErrorResponse"


@pytest.fixture
async def schema(client):
    response = await client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.oai.openapi+json"
    return response.json()


def _error_statuses(operation) -> set[str]:
    return {
        status
        for status, response in operation["responses"].items()
        if response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
        == ERROR_REF
    }


async def test_title_version_and_security_schemes(schema):
    from turbocat_core import __version__

    assert schema["info"]["title"] == "Turbocat"
    assert schema["info"]["version"] == __version__
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["apiKeyAuth"]["type"] == "apiKey"
    assert schemes["apiKeyAuth"]["in"] == "header"
    assert schemes["apiKeyAuth"]["name"] == "X-API-Key"


async def test_the_error_envelope_is_a_reusable_schema(schema):
    components = schema["components"]["schemas"]
    assert set(components["ErrorResponse"]["required"]) == {"success", "error"}
    detail = components["ErrorDetail"]
    assert set(detail["required"]) == {"code", "message", "requestId"}
    assert "details" in detail["properties"]
    assert "VALIDATION_ERROR" in components["ErrorCode"]["enum"]


async def test_every_operation_documents_its_errors(schema):
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]
    assert operations
    for path, method, operation in operations:
        documented = _error_statuses(operation) | set(operation["responses"])
        assert {"400", "500", "503"} <= documented, (method, path)
        assert {"400", "500"} <= _error_statuses(operation), (method, path)
    paths = schema["paths"]
    assert {"413", "415"} <= _error_statuses(paths[f"{API}/probe/echo"]["post"])
    assert "404" in _error_statuses(paths[f"{API}/probe/users/{{user_id}}"]["get"])
    secured = paths[f"{API}/probe/secured"]["get"]
    assert {"401", "403", "429"} <= _error_statuses(secured)
    assert secured["security"] == [{"bearerAuth": []}, {"apiKeyAuth": []}]
    assert "401" not in _error_statuses(paths[f"{API}/probe/users"]["get"])


async def test_health_and_documented_routes_only(schema):
    assert {"/health", "/health/live", "/health/ready"} <= set(schema["paths"])
    assert "503" in schema["paths"]["/health/ready"]["get"]["responses"]
    assert not [p for p in schema["paths"] if "raise" in p or "openapi" in p or "docs" in p]


async def test_list_parameters_are_documented(schema):
    parameters = {p["name"]: p for p in schema["paths"][f"{API}/probe/users"]["get"]["parameters"]}
    assert {"page", "pageSize", "sortBy", "sortOrder", "search", "tags", "role"} <= set(parameters)
    assert parameters["pageSize"]["schema"]["maximum"] == 100


async def test_domain_objects_are_documented_as_they_travel(schema):
    user = schema["components"]["schemas"]["User"]
    assert "fullName" in user["properties"] and "full_name" not in user["properties"]
    assert "passwordHash" not in user["properties"]
    assert "lastLoginAt" in user["required"]
    echo = schema["components"]["schemas"]["EchoIn"]
    assert "fullName" in echo["properties"]


async def test_the_swagger_ui_is_served_from_this_server(client):
    for path in (f"{API}/docs", API):
        response = await client.get(path)
        assert response.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
        assert assets and all(url.startswith(f"{API}/docs/assets/") for url in assets)
        for url in assets:
            asset = await client.get(url)
            assert asset.status_code == 200 and asset.content, url
    bundle = await client.get(f"{API}/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert "SwaggerUIBundle" in bundle.text
