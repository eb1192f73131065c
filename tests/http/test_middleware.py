"""The edge: request ids, security headers, HTTPS in production, CORS, body limits, the log."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from tests.http.conftest import (
    API,
    assert_error,
    assert_raw_error,
    build_app,
    raw_request,
    serve,
)

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
# success, error, unknown route, wrong method, health, docs JSON
PATHS = [
    ("GET", f"{API}/probe/users"),
    ("GET", f"{API}/probe/users?pageSize=0"),
    ("GET", f"{API}/nope"),
    ("PUT", "/health"),
    ("GET", "/health"),
    ("GET", "/health/ready"),
    ("GET", f"{API}/openapi.json"),
]


def assert_security_headers(response, *, hsts: bool) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert ("strict-transport-security" in response.headers) is hsts


# -- request id ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), PATHS)
async def test_every_response_has_a_generated_request_id(client, method, path):
    response = await client.request(method, path)
    assert uuid.UUID(response.headers["x-request-id"])


@pytest.mark.parametrize(
    "value", ["abc", "A.b_c-9", "x" * 128, "0f8fad5b-d9cb-469f-a165-70867728950e"]
)
async def test_a_valid_caller_request_id_is_echoed(client, value):
    response = await client.get("/health/live", headers={"X-Request-Id": value})
    assert response.headers["x-request-id"] == value
    response = await client.get(f"{API}/nope", headers={"X-Request-Id": value})
    assert assert_error(response, 404, "NOT_FOUND")["requestId"] == value


@pytest.mark.parametrize(
    "value", ["", "x" * 129, "has space", "semi;colon", "ünï", "a/b", "<script>"]
)
async def test_an_invalid_caller_request_id_is_replaced(client, value):
    response = await client.get("/health/live", headers={"X-Request-Id": value.encode("utf-8")})
    assert response.headers["x-request-id"] != value
    assert uuid.UUID(response.headers["x-request-id"])


async def test_request_ids_differ_between_requests(client):
    ids = {(await client.get("/health/live")).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


# -- security headers, HSTS, HTTPS ------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), PATHS)
async def test_security_headers_on_every_response(client, method, path):
    assert_security_headers(await client.request(method, path), hsts=False)


@pytest.mark.parametrize(("method", "path"), PATHS)
async def test_production_adds_hsts_everywhere(method, path):
    async with serve(env="production", base_url="https://testserver.local") as client:
        response = await client.request(method, path)
    assert response.status_code != 308
    assert_security_headers(response, hsts=True)
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_production_redirects_plain_http_except_health():
    async with serve(env="production") as client:
        response = await client.get(f"{API}/probe/users?page=2&tags=a,b")
        assert response.status_code == 308
        assert response.headers["location"] == (
            "https://testserver.local/api/v1/probe/users?page=2&tags=a,b"
        )
        assert response.headers["x-request-id"]
        assert_security_headers(response, hsts=True)
        response = await client.post(f"{API}/probe/echo", json={"fullName": "a"})
        assert response.status_code == 308  # 308 keeps the method and body
        for path in ["/health", "/health/live", "/health/ready"]:
            assert (await client.get(path)).status_code == 200


async def test_the_redirect_drops_the_port_and_ignores_a_forged_host():
    async with serve(env="production", public_url="https://api.example.com") as client:
        response = await client.get("/api/v1/x", headers={"Host": "example.org:8080"})
        assert response.headers["location"] == "https://example.org/api/v1/x"
        response = await client.get("/api/v1/x", headers={"Host": "evil.com/@x"})
        assert response.headers["location"] == "https://api.example.com/api/v1/x"


async def test_development_neither_redirects_nor_sends_hsts(client):
    response = await client.get(f"{API}/probe/users")
    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers


async def test_forwarded_proto_is_honoured_only_when_trusted():
    https = {"X-Forwarded-Proto": "https"}
    async with serve(env="production") as client:
        assert (await client.get(f"{API}/probe/users", headers=https)).status_code == 308
    async with serve(env="production", trust_proxy_headers=True) as client:
        assert (await client.get(f"{API}/probe/users", headers=https)).status_code == 200
        assert (
            await client.get(f"{API}/probe/users", headers={"X-Forwarded-Proto": "http"})
        ).status_code == 308
        # the proxy nearest the client is listed first
        chain = {"X-Forwarded-Proto": "https, http"}
        assert (await client.get(f"{API}/probe/users", headers=chain)).status_code == 200
    async with serve(
        env="production", trust_proxy_headers=True, base_url="https://testserver.local"
    ) as client:
        # a trusted proxy that says http wins over the connection's scheme
        response = await client.get(f"{API}/probe/users", headers={"X-Forwarded-Proto": "http"})
        assert response.status_code == 308


async def test_the_docs_page_allows_this_server_s_files_only(client):
    response = await client.get(f"{API}/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["default-src"] == directives["frame-ancestors"] == "'none'"
    assert "<script>" not in response.text and "<style" not in response.text
    # the API's own answers keep the API's policy
    api = await client.get(f"{API}/openapi.json")
    assert "script-src" not in api.headers["content-security-policy"]


# -- CORS ------------------------------------------------------------------------------------

ORIGIN = "https://app.example.com"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "Authorization, Content-Type",
}


async def test_cors_preflight_for_a_configured_origin():
    async with serve(cors_origins=(ORIGIN,)) as client:
        response = await client.options(f"{API}/probe/echo", headers=PREFLIGHT)
        assert response.status_code in (200, 204)
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "authorization" in response.headers["access-control-allow-headers"].lower()
        assert response.headers["x-request-id"]
        assert_security_headers(response, hsts=False)
        response = await client.get(f"{API}/probe/users", headers={"Origin": ORIGIN})
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


async def test_cors_refuses_other_origins():
    async with serve(cors_origins=(ORIGIN,)) as client:
        headers = {**PREFLIGHT, "Origin": "https://evil.example"}
        response = await client.options(f"{API}/probe/echo", headers=headers)
        assert "access-control-allow-origin" not in response.headers
        response = await client.get(
            f"{API}/probe/users", headers={"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in response.headers


async def test_no_cors_headers_when_no_origin_is_configured(client):
    response = await client.options(f"{API}/probe/echo", headers=PREFLIGHT)
    assert response.status_code < 500
    assert not [h for h in response.headers if h.startswith("access-control-")]
    response = await client.get(f"{API}/probe/users", headers={"Origin": ORIGIN})
    assert not [h for h in response.headers if h.startswith("access-control-")]


# -- body limits -----------------------------------------------------------------------------

LIMIT = 2048


def _big_body(size: int) -> bytes:
    return b'{"fullName": "' + b"x" * size + b'"}'


async def test_a_body_over_the_limit_is_413_by_content_length():
    async with serve(max_body_bytes=LIMIT) as client:
        response = await client.post(
            f"{API}/probe/echo",
            content=_big_body(LIMIT),
            headers={"Content-Type": "application/json"},
        )
        assert_error(response, 413, "PAYLOAD_TOO_LARGE")
        small = await client.post(f"{API}/probe/echo", json={"fullName": "x" * (LIMIT - 100)})
        assert small.status_code == 201


async def test_a_declared_length_over_the_limit_is_refused_before_reading():
    response = await raw_request(
        build_app(max_body_bytes=LIMIT),
        "POST",
        f"{API}/probe/echo",
        headers=[(b"content-type", b"application/json"), (b"content-length", b"999999999")],
    )
    assert_raw_error(response, 413, "PAYLOAD_TOO_LARGE")


async def test_a_chunked_body_over_the_limit_is_413_without_content_length():
    chunks = [b'{"fullName": "', *[b"x" * 500] * 10, b'"}']
    response = await raw_request(
        build_app(max_body_bytes=LIMIT),
        "POST",
        f"{API}/probe/echo",
        headers=[(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        chunks=chunks,
    )
    assert_raw_error(response, 413, "PAYLOAD_TOO_LARGE")
    small = [b'{"fullName": ', b'"abc"', b"}"]
    response = await raw_request(
        build_app(max_body_bytes=LIMIT),
        "POST",
        f"{API}/probe/echo",
        headers=[(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        chunks=small,
    )
    assert response.status == 201, response.body


async def test_the_default_limit_is_ten_mebibytes(client):
    body = _big_body(10 * 1024 * 1024)
    response = await client.post(
        f"{API}/probe/echo", content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


# -- the request log -------------------------------------------------------------------------


def _log_lines(caplog) -> list[dict]:
    return [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.name == "turbocat.http" and r.getMessage().startswith("{")
    ]


async def test_one_json_log_line_per_request(client, caplog):
    caplog.set_level(logging.INFO, logger="turbocat.http")
    secret = "s3cr3t-token-value"
    await client.get(
        f"{API}/probe/users?search={secret}",
        headers={"Authorization": f"Bearer {secret}", "X-Request-Id": "log-1"},
    )
    await client.post(f"{API}/probe/echo", json={"fullName": secret})
    await client.get(f"{API}/nope")
    lines = _log_lines(caplog)
    assert len(lines) == 3
    first = lines[0]
    assert set(first) == {"method", "path", "status", "duration_ms", "request_id", "user_id"}
    assert first["method"] == "GET"
    assert first["path"] == f"{API}/probe/users"
    assert first["status"] == 200
    assert first["request_id"] == "log-1"
    assert first["user_id"] is None
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    assert [line["status"] for line in lines] == [200, 201, 404]
    assert secret not in caplog.text


async def test_the_log_line_names_the_user_the_auth_layer_recorded(caplog):
    from litestar import Request, Router, get

    @get("/whoami")
    async def whoami(request: Request) -> dict[str, bool]:
        request.scope["state"]["user_id"] = "0f8fad5b-d9cb-469f-a165-70867728950e"
        return {"ok": True}

    caplog.set_level(logging.INFO, logger="turbocat.http")
    async with serve(build_app(routers=[Router("/t", route_handlers=[whoami])])) as client:
        assert (await client.get(f"{API}/t/whoami")).status_code == 200
    (line,) = _log_lines(caplog)
    assert line["user_id"] == "0f8fad5b-d9cb-469f-a165-70867728950e"


async def test_server_errors_are_logged_at_error_level(client, caplog):
    caplog.set_level(logging.INFO, logger="turbocat.http")
    await client.get(f"{API}/probe/raise/crash")
    (record,) = [r for r in caplog.records if r.getMessage().startswith("{")]
    assert record.levelno == logging.ERROR
    assert record.http["status"] == 500  # structured handlers get the fields too
