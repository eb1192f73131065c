"""The error envelope: the core family, Litestar's own errors, malformed input, real 500s."""

from __future__ import annotations

import json
import logging

import pytest

from tests.http.conftest import (
    API,
    assert_error,
    assert_raw_error,
    build_app,
    raw_request,
    serve,
)
from tests.http.probe import SECRET, guarded_router

RAISE = f"{API}/probe/raise"


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("not-found", 404, "NOT_FOUND"),
        ("validation", 400, "VALIDATION_ERROR"),
        ("cycle", 400, "VALIDATION_ERROR"),
        ("already-exists", 409, "ALREADY_EXISTS"),
        ("conflict", 409, "CONFLICT"),
        ("conflict-worded-as-duplicate", 409, "CONFLICT"),  # the class decides, not the words
        ("invalid-state", 409, "INVALID_STATE"),
        ("unauthenticated", 401, "UNAUTHORIZED"),
        ("invalid-credentials", 401, "INVALID_CREDENTIALS"),
        ("token-expired", 401, "TOKEN_EXPIRED"),
        ("invalid-token", 401, "INVALID_TOKEN"),
        ("odd-auth-code", 401, "UNAUTHORIZED"),
        ("forbidden", 403, "FORBIDDEN"),
        ("rate-limited", 429, "RATE_LIMITED"),
        ("external", 503, "SERVICE_UNAVAILABLE"),
        ("not-configured", 503, "SERVICE_UNAVAILABLE"),
    ],
)
async def test_each_core_error_has_its_code_and_status(client, kind, status, code):
    assert_error(await client.get(f"{RAISE}/{kind}"), status, code)


async def test_validation_details_name_each_field(client):
    error = assert_error(await client.get(f"{RAISE}/validation"), 400, "VALIDATION_ERROR")
    assert error["message"] == "bad input"
    assert error["details"] == [
        {"field": "name", "message": "must not be empty"},
        {"field": "tags.0", "message": "too long"},
    ]


async def test_the_cores_snake_case_paths_go_out_as_the_wire_names_them(client):
    error = assert_error(await client.get(f"{RAISE}/snake-paths"), 400, "VALIDATION_ERROR")
    assert error["message"] == "steps.0.retryCount: too many (and 1 more)"
    assert error["details"] == [
        {"field": "steps.0.retryCount", "message": "too many"},
        {"field": "environmentVariables.API_KEY", "message": "must be text"},
    ]


async def test_a_cycle_reports_its_path(client):
    error = assert_error(await client.get(f"{RAISE}/cycle"), 400, "VALIDATION_ERROR")
    assert "a -> b -> c -> a" in error["message"]
    assert error["details"] == [{"field": "steps", "message": "cycle: a -> b -> c -> a"}]


async def test_errors_without_details_have_no_details_key(client):
    error = assert_error(await client.get(f"{RAISE}/not-found"), 404, "NOT_FOUND")
    assert "details" not in error
    assert error["message"] == "agent 42 not found"


async def test_rate_limited_says_when_to_retry_rounded_up(client):
    response = await client.get(f"{RAISE}/rate-limited")
    assert response.headers["retry-after"] == "13"
    response = await client.get(f"{RAISE}/rate-limited-short")
    assert response.headers["retry-after"] == "1"
    assert "x-ratelimit-limit" not in response.headers
    response = await client.get(f"{RAISE}/rate-limited-key")
    assert response.headers["retry-after"] == "30"
    assert response.headers["x-ratelimit-limit"] == "60"
    assert response.headers["x-ratelimit-remaining"] == "0"


async def test_unauthenticated_challenges_with_bearer(client):
    response = await client.get(f"{RAISE}/token-expired")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_dependency_failure_hides_the_driver_text(client, caplog):
    with caplog.at_level(logging.WARNING, logger="turbocat.http"):
        response = await client.get(f"{RAISE}/external")
    error = assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert SECRET not in response.text and "10.0.0.5" not in response.text
    assert error["requestId"] in caplog.text  # the operator can find the cause


@pytest.mark.parametrize("kind", ["crash", "bare"])
async def test_a_real_500_leaks_nothing_and_is_logged_with_the_request_id(client, caplog, kind):
    with caplog.at_level(logging.ERROR, logger="turbocat.http"):
        response = await client.get(f"{RAISE}/{kind}", headers={"X-Request-Id": "trace-500"})
    error = assert_error(response, 500, "INTERNAL_ERROR")
    assert error["requestId"] == "trace-500"
    for leak in (SECRET, "SELECT", "Traceback", "RuntimeError", "TurbocatError", "probe.py"):
        assert leak not in response.text
    failures = [r for r in caplog.records if r.exc_info and "trace-500" in r.getMessage()]
    assert failures, "the exception is logged server-side with the request id"


async def test_unknown_route_is_not_found(client):
    for path in ["/nope", f"{API}/nope", f"{API}/probe/nope/deeper", f"{API}/docs/nope"]:
        assert_error(await client.get(path), 404, "NOT_FOUND")
    assert_error(await client.post(f"{API}/nope", json={}), 404, "NOT_FOUND")


async def test_wrong_method_is_405_with_allow(client):
    response = await client.delete(f"{API}/probe/users")
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["allow"]
    response = await client.post("/health/live")
    assert_error(response, 405, "METHOD_NOT_ALLOWED")


async def test_a_malformed_id_in_the_path_matches_no_route(client):
    assert_error(await client.get(f"{API}/probe/users/not-a-uuid"), 404, "NOT_FOUND")


# -- JSON bodies -----------------------------------------------------------------------------

ECHO = f"{API}/probe/echo"


async def test_a_valid_body_is_accepted(client):
    response = await client.post(ECHO, json={"fullName": "Ada", "steps": [{"stepKey": "a"}]})
    assert response.status_code == 201, response.text
    assert response.json() == {
        "success": True,
        "data": {"fullName": "Ada", "count": 0, "steps": [{"stepKey": "a", "retryCount": 0}]},
    }


async def test_unknown_fields_are_refused_naming_the_field(client):
    error = assert_error(
        await client.post(ECHO, json={"fullName": "Ada", "bogus": 1}), 400, "VALIDATION_ERROR"
    )
    assert error["details"] == [{"field": "bogus", "message": "unknown field"}]
    error = assert_error(
        await client.post(ECHO, json={"fullName": "Ada", "steps": [{"stepKey": "a", "x": 1}]}),
        400,
        "VALIDATION_ERROR",
    )
    assert error["details"] == [{"field": "steps.0.x", "message": "unknown field"}]


async def test_wrong_types_missing_fields_and_constraints_name_the_field(client):
    cases = [
        ({"fullName": 3}, "fullName"),
        ({}, "fullName"),
        ({"fullName": "a", "steps": [{"stepKey": "a", "retryCount": 11}]}, "steps.0.retryCount"),
        ({"fullName": "a", "steps": [{}]}, "steps.0.stepKey"),
        ([], "body"),
        (None, "body"),
    ]
    for body, field in cases:
        response = await client.post(
            ECHO, content=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert error["details"][0]["field"] == field, (body, error)


async def test_a_required_body_that_is_absent_is_a_validation_error(client):
    error = assert_error(await client.post(ECHO), 400, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "body", "message": "a JSON body is required"}]


async def test_an_optional_body_may_be_absent(client):
    response = await client.post(f"{API}/probe/maybe")
    assert response.status_code == 200, response.text
    assert response.json()["data"] == "none"


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"]
)
async def test_a_body_that_is_not_declared_json_is_415(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post(ECHO, content=b'{"fullName": "a"}', headers=headers)
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/merge-patch+json"]
)
async def test_json_media_types_with_parameters_or_suffix_are_accepted(client, content_type):
    response = await client.post(
        ECHO, content=b'{"fullName": "a"}', headers={"Content-Type": content_type}
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "body",
    [
        b'{"fullName": ',
        b"{'fullName': 'a'}",
        b'{"fullName": "a",}',
        b"\xff\xfe{}",
        b'{"fullName": "\xff\xfe"}',
        b'{"fullName": "a", "count": 1e999}',
        b'{"fullName": "a", "count": -1e400}',
        b"[" * 50_000 + b"]" * 50_000,
        b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
        b"\x00\x00",
        b"nul\x00l",
    ],
)
async def test_malformed_json_is_bad_request_never_500(client, body):
    response = await client.post(ECHO, content=body, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "BAD_REQUEST")


async def test_huge_integers_in_a_body_are_not_a_500(client):
    response = await client.post(
        ECHO,
        content=b'{"fullName": "a", "count": 123456789012345678901234567890}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code in (201, 400), response.text


# -- malformed URLs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", [f"{API}/probe/users%00", f"{API}/probe/users?search=a%00b", "/health%00"]
)
async def test_nul_characters_in_the_url_are_bad_request(client, path):
    assert_error(await client.get(path), 400, "BAD_REQUEST")


@pytest.mark.parametrize(
    ("path", "query"),
    [
        (f"{API}/probe/users\x00", b""),
        (f"{API}/probe/users", b"search=a\x00b"),
        (f"{API}/probe/users", b"tags=%00"),
    ],
)
async def test_raw_nul_bytes_in_the_url_are_bad_request(path, query):
    response = await raw_request(build_app(), "GET", path, query_string=query)
    assert_raw_error(response, 400, "BAD_REQUEST")


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1e3", b"", b"\xb2", b"\xd9\xa3"])
async def test_a_content_length_that_is_not_a_number_is_bad_request(length):
    response = await raw_request(
        build_app(),
        "POST",
        f"{API}/probe/echo",
        headers=[(b"content-type", b"application/json"), (b"content-length", length)],
        chunks=[b'{"fullName": "a"}'],
    )
    assert_raw_error(response, 400, "BAD_REQUEST")


@pytest.mark.parametrize(
    "path",
    [
        f"{API}/probe/users?search=%zz",
        f"{API}/probe/users?search=%ff%fe",
        f"{API}/probe/users?search=%",
        f"{API}/probe/users?%ff=1&tags=%e2%82",
        f"{API}/probe/users?page=%ff",
        f"{API}/%ff%fe",
        f"{API}/probe/users/%ff",
        "/%",
        f"{API}/probe/users?pageSize=1e3",
        f"{API}/probe/users?page=99999999999999999999999999",
    ],
)
async def test_odd_urls_never_yield_a_500(client, path):
    response = await client.get(path)
    assert response.status_code < 500, response.text
    assert response.headers["x-request-id"]
    if response.status_code >= 400:
        assert response.json()["success"] is False


async def test_malformed_json_says_so(client):
    response = await client.post(
        ECHO, content=b'{"fullName": ', headers={"Content-Type": "application/json"}
    )
    assert assert_error(response, 400, "BAD_REQUEST")["message"].startswith(
        "the body is not valid JSON"
    )


async def test_authentication_answers_before_the_body_is_read():
    async with serve(build_app(routers=[guarded_router])) as client:
        for body, content_type in [(b"[[[", "application/json"), (b"x", "text/plain")]:
            response = await client.post(
                f"{API}/guarded/echo", content=body, headers={"Content-Type": content_type}
            )
            assert_error(response, 401, "UNAUTHORIZED")
