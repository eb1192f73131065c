"""Schemathesis over the app's own OpenAPI: no generated request (valid or not) gets a 5xx,
and every answer conforms to the document (status, content type, body schema).

It covers every documented route, so it grows as resources are added to ``API_ROUTERS``;
meanwhile the well-behaved probe routes stand in for them (bodies, lists, domain objects).
"""

from __future__ import annotations

import asyncio

import pytest
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
from turbocat_core.usecases.accounts import Client
from turbocat_http.dependencies import CONTAINER_STATE_KEY

pytestmark = pytest.mark.slow  # hundreds of generated requests

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# Built when the module is collected (schemathesis' fixture-based loader does not work with
# pytest 9): a memory store, nothing on disk, no sockets.
APP = build_app(routers=[probe_router])
schema = schemathesis.openapi.from_asgi(f"{API}/openapi.json", APP)


def _token() -> str:
    """An account on the app's store, so generated requests reach the handlers behind auth.

    Made through the app's own container (the in-memory store keeps nothing tied to an
    event loop), not through a second client: the app's lifespan runs once, in schemathesis.
    """
    container = APP.state[CONTAINER_STATE_KEY]
    _, tokens = asyncio.run(
        container.register()("fuzz@example.com", "Correct-Horse-9", None, Client())
    )
    return str(tokens.access_token)


TOKEN = _token()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_generated_requests_get_no_5xx_and_conforming_answers(case):
    headers = dict(case.headers or {})
    headers.setdefault("Authorization", f"Bearer {TOKEN}")  # unless the case sets its own
    case.call_and_validate(headers=headers, checks=CHECKS)
