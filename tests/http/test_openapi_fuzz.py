"""Schemathesis over the app's own OpenAPI: no generated request (valid or not) gets a 5xx,
and every answer conforms to the document (status, content type, body schema).

It covers every documented route, so it grows as resources are added to ``API_ROUTERS``;
meanwhile the well-behaved probe routes stand in for them (bodies, lists, domain objects).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.http.conftest import API, build_app
from tests.http.probe import probe_router

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# Built when the module is collected (schemathesis' fixture-based loader does not work with
# pytest 9): a memory store, nothing on disk, no sockets.
schema = schemathesis.openapi.from_asgi(f"{API}/openapi.json", build_app(routers=[probe_router]))


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_generated_requests_get_no_5xx_and_conforming_answers(case):
    case.call_and_validate(checks=CHECKS)
