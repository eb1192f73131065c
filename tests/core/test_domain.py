"""Domain rules: lifecycles, the deployment target rule, passwords, API keys, access, queries."""

from __future__ import annotations

from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.core.builders import T0
from turbocat_core.domain.access import Actor, require_owner, require_scope, require_visible
from turbocat_core.domain.agent import AGENT_QUERY, Agent, AgentType
from turbocat_core.domain.api_key import (
    check_scopes,
    display_prefix,
    hash_key,
    looks_like_key,
    make_key,
    scope_allows,
)
from turbocat_core.domain.common import ListQuery, Page, next_version
from turbocat_core.domain.deployment import Deployment, DeploymentStatus
from turbocat_core.domain.execution import EXECUTION_TRANSITIONS, Execution, ExecutionStatus
from turbocat_core.domain.user import (
    UserRole,
    check_password_policy,
    normalize_email,
    password_fits_hasher,
)
from turbocat_core.domain.workflow import Workflow
from turbocat_core.errors import InvalidState, NotFound, PermissionDenied, ValidationFailed


def execution(status=ExecutionStatus.PENDING):
    return Execution(
        id=uuid4(),
        created_at=T0,
        updated_at=T0,
        workflow_id=uuid4(),
        user_id=uuid4(),
        status=status,
    )


@pytest.mark.parametrize("source", list(ExecutionStatus))
@pytest.mark.parametrize("target", list(ExecutionStatus))
def test_execution_status_moves_only_along_the_lifecycle(source, target):
    legal = target in EXECUTION_TRANSITIONS[source]
    if legal:
        moved = execution(source).moved_to(target, T0)
        assert moved.status is target
        if target.finished:
            assert moved.completed_at == T0 and moved.duration_ms is not None
    else:
        with pytest.raises(InvalidState):
            execution(source).moved_to(target, T0)
    assert not any(EXECUTION_TRANSITIONS[s] for s in ExecutionStatus if s.finished)


def deployment(**fields):
    return Deployment(id=uuid4(), created_at=T0, updated_at=T0, user_id=uuid4(), name="d", **fields)


def test_a_deployment_targets_exactly_one_of_a_workflow_or_an_agent():
    deployment(workflow_id=uuid4())
    deployment(agent_id=uuid4())
    for bad in ({}, {"workflow_id": uuid4(), "agent_id": uuid4()}):
        with pytest.raises(ValidationFailed, match="exactly one"):
            deployment(**bad)


def test_deployment_lifecycle_and_masked_variables():
    d = deployment(workflow_id=uuid4(), environment_variables={"TOKEN": "v1:ciphertext"})
    running = d.moved_to(DeploymentStatus.STARTING, T0).moved_to(DeploymentStatus.RUNNING, T0)
    assert running.started_at == T0
    with pytest.raises(InvalidState):
        d.moved_to(DeploymentStatus.RUNNING, T0)  # STOPPED cannot jump to RUNNING
    assert running.masked_variables() == {"TOKEN": "********"}
    assert "ciphertext" not in repr(running)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Sh0rt!", "at least 8"),
        ("alllowercase1!", "upper-case"),
        ("ALLUPPERCASE1!", "lower-case"),
        ("NoDigitsHere!", "digit"),
        ("NoSpecials123", "special"),
        ("Aa1!" + "é" * 35, "at most 72 bytes"),  # 74 bytes, 39 characters
    ],
)
def test_the_password_policy_names_each_broken_rule(password, problem):
    with pytest.raises(ValidationFailed) as caught:
        check_password_policy(password)
    assert any(problem in d.message for d in caught.value.details)
    assert all(d.field == "password" for d in caught.value.details)


def test_passwords_within_72_bytes_pass_and_longer_ones_cannot_be_checked():
    check_password_policy("Correct-Horse-9")
    assert password_fits_hasher("a" * 72) and not password_fits_hasher("a" * 73)
    assert not password_fits_hasher("€" * 25)  # 75 bytes


def test_emails_are_normalised_and_checked():
    assert normalize_email("  Ada@Example.COM ") == "ada@example.com"
    with pytest.raises(ValidationFailed):
        normalize_email("not-an-email")


@given(
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        min_size=43,
        max_size=43,
    )
)
def test_api_keys_have_a_recognisable_shape_and_a_stable_hash(secret):
    key = make_key(secret)
    assert key.startswith("tck_") and looks_like_key(key)
    assert len(hash_key(key)) == 64 and hash_key(key) == hash_key(key)
    assert display_prefix(key) == key[:12]
    assert not looks_like_key(key[:-1]) and not looks_like_key("xyz_" + secret)


def test_scopes():
    assert check_scopes([]) == ("*",)
    assert check_scopes(["agents:read", "agents:read", "workflows:write"]) == (
        "agents:read",
        "workflows:write",
    )
    with pytest.raises(ValidationFailed) as caught:
        check_scopes(["agents:read", "agents:delete", "nope"])
    assert [d.field for d in caught.value.details] == ["scopes.1", "scopes.2"]
    assert scope_allows(["*"], "analytics", "write")
    assert scope_allows(["agents:write"], "agents", "read")
    assert not scope_allows(["agents:read"], "agents", "write")
    key_actor = Actor(user_id=uuid4(), role=UserRole.USER, scopes=frozenset({"agents:read"}))
    require_scope(key_actor, "agents", "read")
    with pytest.raises(PermissionDenied):
        require_scope(key_actor, "workflows", "read")
    require_scope(Actor(user_id=uuid4(), role=UserRole.USER), "workflows", "write")  # a session


def test_private_resources_of_others_are_not_found_and_admins_see_everything():
    owner, other = uuid4(), uuid4()
    me = Actor(user_id=other, role=UserRole.USER)
    admin = Actor(user_id=uuid4(), role=UserRole.ADMIN)
    with pytest.raises(NotFound):
        require_visible(me, "agent", uuid4(), owner)
    require_visible(me, "agent", uuid4(), owner, is_public=True)
    with pytest.raises(PermissionDenied):
        require_owner(me, "agent", uuid4(), owner, is_public=True)
    require_owner(admin, "agent", uuid4(), owner)


def test_versions_and_counters():
    def agent(version):
        return Agent(
            id=uuid4(),
            created_at=T0,
            updated_at=T0,
            user_id=uuid4(),
            name="a",
            type=AgentType.DATA,
            version=version,
        )

    assert next_version([agent(1), agent(4), agent(2)]) == 5
    assert next_version([]) == 1
    workflow = Workflow(id=uuid4(), created_at=T0, updated_at=T0, user_id=uuid4(), name="w")
    assert workflow.revised(T0).version == 2
    counted = agent(1).with_runs(2, 1, 300.0, T0).with_runs(1, 0, 100.0, T0)
    assert (counted.total_executions, counted.successful_executions, counted.failed_executions) == (
        4,
        3,
        1,
    )
    assert counted.avg_execution_time_ms == 100.0


def test_list_queries_refuse_what_the_listing_does_not_allow():
    with pytest.raises(ValidationFailed) as caught:
        ListQuery.build(
            AGENT_QUERY,
            page=0,
            page_size=101,
            sort_by="password",
            sort_order="up",
            filters={"secret": 1},
        )
    assert {d.field for d in caught.value.details} == {
        "page",
        "page_size",
        "sort_by",
        "sort_order",
        "secret",
    }
    query = ListQuery.build(
        AGENT_QUERY, page=3, page_size=10, sort_by="name", tags=[" a ", "", "b"]
    )
    assert (query.offset, query.tags) == (20, ("a", "b"))
    page = Page(items=[], total=21, page=3, page_size=10)
    assert (page.total_pages, page.has_next, page.has_prev) == (3, False, True)
    assert Page(items=[], total=0, page=1, page_size=10).total_pages == 0
