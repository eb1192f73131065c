"""The PostgreSQL schema and its migrations: constraints, indexes, history, concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from uuid import uuid4

import psycopg
import pytest
from psycopg import errors as pg

from tests.contracts import factories as make
from tests.databases import require_postgres, temporary_database
from turbocat_adapters.migrations import discover
from turbocat_adapters.postgres import PostgresStore
from turbocat_adapters.postgres.migrator import PACKAGE
from turbocat_adapters.store_contract import MigrationError
from turbocat_core.domain.agent import Agent, AgentType
from turbocat_core.domain.user import LOCAL_OWNER_EMAIL, LOCAL_OWNER_ID, User
from turbocat_core.domain.workflow import Workflow
from turbocat_core.errors import Conflict, ValidationFailed

pytestmark = pytest.mark.slow  # a PostgreSQL database of its own per test

FILES = discover(PACKAGE)


@pytest.fixture(scope="module")
def migrated_dsn() -> Iterator[str]:
    """A throwaway database of this module, migrated once."""
    require_postgres()
    with temporary_database("turbocat_schema") as dsn:
        asyncio.run(_migrate(dsn))
        yield dsn


@pytest.fixture
def fresh_dsn() -> Iterator[str]:
    """An empty throwaway database for one test."""
    require_postgres()
    with temporary_database("turbocat_fresh") as dsn:
        yield dsn


async def _migrate(dsn: str) -> list[int]:
    store = PostgresStore(dsn, max_size=1)
    return [state.version for state in await store.migrate()]


@pytest.fixture
async def store(migrated_dsn: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(migrated_dsn, max_size=4, lock_timeout=2.0)
    await store.open()
    yield store
    await store.close()


async def _raw(dsn: str, query: str, params: dict | None = None) -> list[tuple]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cursor = await conn.execute(query.encode(), params)
        return await cursor.fetchall() if cursor.description else []


async def _owner_with_targets(store: PostgresStore) -> tuple[User, Workflow, Agent]:
    person = make.user()
    flow = make.workflow(person.id)
    agent = make.agent(person.id)
    async with store.unit_of_work() as uow:
        await uow.users.add(person)
        await uow.workflows.add(flow)
        await uow.agents.add(agent)
        await uow.commit()
    return person, flow, agent


# --- migrations -----------------------------------------------------------------------------


async def test_an_empty_database_gets_every_file_once_and_a_second_run_applies_nothing(
    fresh_dsn,
):
    store = PostgresStore(fresh_dsn)
    assert [state.applied_at for state in await store.migration_status()] == [None] * len(FILES)
    applied = await store.migrate()
    assert [state.version for state in applied] == [f.version for f in FILES]
    assert all(state.applied_at is not None for state in applied)
    assert await store.migrate() == []
    states = await store.migration_status()
    assert all(state.applied_at is not None and state.checksum_ok for state in states)
    tables = {
        row[0]
        for row in await _raw(
            fresh_dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
    }
    assert tables == {
        "users", "agents", "workflows", "workflow_steps", "executions", "step_runs",
        "execution_logs", "templates", "deployments", "api_keys", "audit_logs",
        "sessions", "one_time_tokens", "replay_keys", "schema_migrations",
    }  # fmt: skip


async def test_a_file_changed_after_it_was_applied_is_a_migration_error(fresh_dsn):
    store = PostgresStore(fresh_dsn)
    await store.migrate()
    await _raw(fresh_dsn, "UPDATE schema_migrations SET checksum = 'tampered' WHERE version = 1")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await store.migrate()
    first, *_ = await store.migration_status()
    assert first.checksum_ok is False


async def test_a_migration_the_code_does_not_know_is_a_migration_error(fresh_dsn):
    store = PostgresStore(fresh_dsn)
    await store.migrate()
    await _raw(
        fresh_dsn,
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')",
    )
    with pytest.raises(MigrationError, match="does not know"):
        await store.migrate()


async def test_two_processes_migrating_at_once_apply_each_file_once(fresh_dsn):
    first, second = PostgresStore(fresh_dsn), PostgresStore(fresh_dsn)
    applied = await asyncio.gather(first.migrate(), second.migrate())
    versions = sorted(state.version for states in applied for state in states)
    assert versions == [f.version for f in FILES]
    assert sorted(len(states) for states in applied) == [0, len(FILES)]
    rows = await _raw(fresh_dsn, "SELECT version FROM schema_migrations ORDER BY version")
    assert [row[0] for row in rows] == [f.version for f in FILES]


async def test_the_indexes_of_the_storage_contract_exist(migrated_dsn):
    rows = await _raw(
        migrated_dsn,
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    )
    definitions = {name: definition for _, name, definition in rows}
    expected = {
        "users_email_key": "UNIQUE INDEX",
        "users_role_idx": "(role)",
        "users_created_at_idx": "(created_at)",
        "agents_user_id_idx": "(user_id)",
        "agents_type_idx": "(type)",
        "agents_status_idx": "(status)",
        "agents_is_public_idx": "(is_public)",
        "agents_tags_idx": "USING gin (tags)",
        "agents_created_at_idx": "(created_at)",
        "workflows_user_id_idx": "(user_id)",
        "workflows_status_idx": "(status)",
        "workflows_is_public_idx": "(is_public)",
        "workflows_tags_idx": "USING gin (tags)",
        "workflows_created_at_idx": "(created_at)",
        "workflows_schedule_enabled_idx": "(schedule_enabled)",
        "workflow_steps_workflow_id_step_key_key": "UNIQUE INDEX",
        "workflow_steps_agent_id_idx": "(agent_id)",
        "workflow_steps_workflow_id_position_idx": '(workflow_id, "position")',
        "executions_workflow_id_created_at_idx": "(workflow_id, created_at)",
        "executions_user_id_idx": "(user_id)",
        "executions_status_idx": "(status)",
        "executions_created_at_idx": "(created_at)",
        "executions_completed_at_idx": "(completed_at)",
        "step_runs_execution_id_step_key_key": "UNIQUE INDEX",
        "execution_logs_execution_id_seq_key": "UNIQUE INDEX",
        "execution_logs_created_at_idx": "(created_at)",
        "templates_category_idx": "(category)",
        "templates_type_idx": "(type)",
        "templates_is_official_idx": "(is_official)",
        "templates_is_public_idx": "(is_public)",
        "templates_usage_count_idx": "(usage_count)",
        "templates_tags_idx": "USING gin (tags)",
        "deployments_user_id_idx": "(user_id)",
        "deployments_workflow_id_idx": "(workflow_id)",
        "deployments_agent_id_idx": "(agent_id)",
        "deployments_status_idx": "(status)",
        "deployments_environment_idx": "(environment)",
        "api_keys_key_hash_key": "UNIQUE INDEX",
        "api_keys_user_id_idx": "(user_id)",
        "audit_logs_user_id_idx": "(user_id)",
        "audit_logs_resource_idx": "(resource_type, resource_id)",
        "audit_logs_action_idx": "(action)",
        "audit_logs_created_at_idx": "(created_at)",
    }
    missing = {name for name in expected if name not in definitions}
    assert not missing
    wrong = {name for name, part in expected.items() if part not in definitions[name]}
    assert not wrong


# --- constraints through the repositories -------------------------------------------------------


async def test_a_duplicate_step_key_in_a_workflow_is_a_conflict(store):
    _, flow, agent = await _owner_with_targets(store)
    async with store.unit_of_work() as uow:
        await uow.steps.add(make.step(flow.id, "fetch", agent_id=agent.id))
        with pytest.raises(Conflict, match="step key"):
            await uow.steps.add(make.step(flow.id, "fetch", agent_id=agent.id))


async def test_a_duplicate_key_hash_or_email_is_a_conflict(store):
    person, _, _ = await _owner_with_targets(store)
    key = make.api_key(person.id)
    async with store.unit_of_work() as uow:
        await uow.api_keys.add(key)
        with pytest.raises(Conflict, match="key hash"):
            await uow.api_keys.add(make.api_key(person.id, key_hash=key.key_hash))
        with pytest.raises(Conflict, match="email"):
            await uow.users.add(make.user(email=person.email.upper()))


async def test_values_outside_the_checks_are_validation_failures(store):
    person, flow, agent = await _owner_with_targets(store)
    async with store.unit_of_work() as uow:
        with pytest.raises(ValidationFailed) as retries:
            await uow.steps.add(make.step(flow.id, "a", agent_id=agent.id, retry_count=11))
        assert retries.value.details[0].field == "retry_count"
        with pytest.raises(ValidationFailed) as negative:
            await uow.agents.add(make.agent(person.id, total_executions=-1))
        assert negative.value.details[0].field == "total_executions"
        execution = make.execution(flow.id, person.id)
        await uow.executions.add(execution)
        with pytest.raises(ValidationFailed) as counted:
            await uow.executions.add_step_counts(execution.id, completed=-1)
        assert counted.value.details[0].field == "steps_completed"
        await uow.commit()  # every refused write undid only itself
    async with store.unit_of_work() as uow:
        assert (await uow.executions.get(execution.id)).steps_completed == 0


async def test_rows_pointing_at_missing_rows_are_validation_failures(store):
    person, _, _ = await _owner_with_targets(store)
    async with store.unit_of_work() as uow:
        with pytest.raises(ValidationFailed, match="workflow_id"):
            await uow.executions.add(make.execution(uuid4(), person.id))
        with pytest.raises(ValidationFailed, match="user_id"):
            await uow.agents.add(make.agent(uuid4()))
        with pytest.raises(ValidationFailed):
            await uow.logs.append([make.log_line(uuid4())])


# --- constraints the repositories cannot even express: raw SQL --------------------------------


async def test_a_deployment_targets_exactly_one_of_a_workflow_or_an_agent(store, migrated_dsn):
    person, flow, agent = await _owner_with_targets(store)
    insert = (
        "INSERT INTO deployments (id, user_id, name, workflow_id, agent_id, created_at, "
        "updated_at) VALUES (%(id)s, %(user)s, 'd', %(flow)s, %(agent)s, now(), now())"
    )
    for flow_id, agent_id in ((flow.id, agent.id), (None, None)):
        params = {"id": uuid4(), "user": person.id, "flow": flow_id, "agent": agent_id}
        with pytest.raises(pg.CheckViolation, match="deployments_one_target"):
            await _raw(migrated_dsn, insert, params)
    params = {"id": uuid4(), "user": person.id, "flow": None, "agent": agent.id}
    await _raw(migrated_dsn, insert, params)


async def test_the_database_refuses_an_unknown_enum_value(store, migrated_dsn):
    person, _, _ = await _owner_with_targets(store)
    with pytest.raises(pg.CheckViolation, match="agents_type_check"):
        await _raw(
            migrated_dsn,
            "INSERT INTO agents (id, user_id, name, type, created_at, updated_at) "
            "VALUES (%(id)s, %(user)s, 'a', 'ROBOT', now(), now())",
            {"id": uuid4(), "user": person.id},
        )
    with pytest.raises(pg.CheckViolation, match="users_role_check"):
        await _raw(
            migrated_dsn,
            "UPDATE users SET role = 'ROOT' WHERE id = %(id)s",
            {"id": person.id},
        )


async def test_the_database_takes_every_agent_type_function_included(store, migrated_dsn):
    person, _, _ = await _owner_with_targets(store)
    for agent_type in AgentType:
        await _raw(
            migrated_dsn,
            "INSERT INTO agents (id, user_id, name, type, created_at, updated_at) "
            "VALUES (%(id)s, %(user)s, 'a', %(type)s, now(), now())",
            {"id": uuid4(), "user": person.id, "type": agent_type.value},
        )


async def test_the_database_refuses_a_negative_counter_and_eleven_retries(store, migrated_dsn):
    _, flow, agent = await _owner_with_targets(store)
    with pytest.raises(pg.CheckViolation):
        await _raw(
            migrated_dsn,
            "UPDATE agents SET failed_executions = -1 WHERE id = %(id)s",
            {"id": agent.id},
        )
    with pytest.raises(pg.CheckViolation):
        await _raw(
            migrated_dsn,
            "INSERT INTO workflow_steps (id, workflow_id, step_key, step_name, step_type, "
            "retry_count, created_at, updated_at) "
            "VALUES (%(id)s, %(flow)s, 'k', 'k', 'WAIT', 11, now(), now())",
            {"id": uuid4(), "flow": flow.id},
        )


async def test_a_failing_unit_of_work_leaves_nothing_half_written(store):
    person, _, agent = await _owner_with_targets(store)
    flow = make.workflow(person.id)

    async def create() -> None:
        async with store.unit_of_work() as uow:
            await uow.workflows.add(flow)
            await uow.steps.add(make.step(flow.id, "a", agent_id=agent.id))
            await uow.steps.add(make.step(flow.id, "a", agent_id=agent.id))
            await uow.commit()

    with pytest.raises(Conflict):
        await create()
    async with store.unit_of_work() as uow:
        assert await uow.workflows.get(flow.id) is None
        assert await uow.steps.for_workflow(flow.id) == []


async def test_soft_deleted_rows_stay_in_the_table(store, migrated_dsn):
    _, flow, _ = await _owner_with_targets(store)
    async with store.unit_of_work() as uow:
        await uow.workflows.update(replace(flow, deleted_at=make.at(1)))
        await uow.commit()
    rows = await _raw(
        migrated_dsn, "SELECT deleted_at FROM workflows WHERE id = %(id)s", {"id": flow.id}
    )
    assert rows == [(make.at(1),)]


async def test_the_local_owner_is_inserted_once_by_the_migrations(fresh_dsn):
    await _migrate(fresh_dsn)
    await _raw(fresh_dsn, "DELETE FROM schema_migrations WHERE version = 9")
    assert await _migrate(fresh_dsn) == [9]  # the insert again: ON CONFLICT DO NOTHING
    rows = await _raw(
        fresh_dsn, "SELECT email, is_active FROM users WHERE id = %(id)s", {"id": LOCAL_OWNER_ID}
    )
    assert rows == [(LOCAL_OWNER_EMAIL, False)]
