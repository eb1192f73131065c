"""The SQLite store's schema and migrations: constraints, indexes, types on disk, bookkeeping."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from tests.contracts import factories as make
from tests.contracts.factories import T0, at
from turbocat_adapters.migrations import Migration, discover
from turbocat_adapters.sql import schema
from turbocat_adapters.sqlite import SqliteStore, migrator
from turbocat_adapters.sqlite.dialect import SQLITE
from turbocat_adapters.store_contract import MigrationError
from turbocat_core.domain.deployment import Deployment
from turbocat_core.domain.user import LOCAL_OWNER_ID
from turbocat_core.errors import Conflict, TurbocatError, ValidationFailed


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "turbocat.db"


@pytest.fixture
async def store(path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(path, lock_timeout=1.0)  # foreign keys on: the default
    await store.open()
    yield store
    await store.close()


@contextlib.contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection to the file, as another tool would open it (foreign keys on)."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA foreign_keys = ON")
    try:
        yield connection
    finally:
        connection.close()


class Parents:
    """Rows the constraint tests hang their rows on (foreign keys are enforced)."""

    def __init__(self) -> None:
        self.user = make.user()
        self.workflow = make.workflow(self.user.id)
        self.agent = make.agent(self.user.id)

    async def store_in(self, store: SqliteStore) -> None:
        async with store.unit_of_work() as uow:
            await uow.users.add(self.user)
            await uow.workflows.add(self.workflow)
            await uow.agents.add(self.agent)
            await uow.commit()


@pytest.fixture
async def parents(store: SqliteStore) -> Parents:
    rows = Parents()
    await rows.store_in(store)
    return rows


async def test_a_fresh_file_is_created_and_migrated_on_open(store: SqliteStore, path: Path):
    assert path.exists()
    migrations = discover(migrator.PACKAGE)
    states = await store.migration_status()
    assert [(s.version, s.name, s.checksum_ok) for s in states] == [
        (m.version, m.name, True) for m in migrations
    ]
    assert all(state.applied_at is not None for state in states)
    with raw(path) as connection:
        tables = {
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        recorded = connection.execute("SELECT version, name, checksum FROM schema_migrations")
        recorded_rows = recorded.fetchall()
    assert tables >= {
        "users",
        "agents",
        "workflows",
        "workflow_steps",
        "executions",
        "step_runs",
        "execution_logs",
        "templates",
        "deployments",
        "api_keys",
        "audit_logs",
        "sessions",
        "one_time_tokens",
        "replay_keys",
        "schema_migrations",
    }
    assert recorded_rows == [(m.version, m.name, m.checksum) for m in migrations]


EXPECTED_INDEXES = {
    "ux_users_email",
    "ix_users_role",
    "ix_users_created_at",
    "ix_agents_user_id",
    "ix_agents_type",
    "ix_agents_status",
    "ix_agents_is_public",
    "ix_agents_created_at",
    "ix_workflows_user_id",
    "ix_workflows_status",
    "ix_workflows_is_public",
    "ix_workflows_created_at",
    "ix_workflows_schedule_enabled",
    "ux_workflow_steps_workflow_id_step_key",
    "ix_workflow_steps_agent_id",
    "ix_workflow_steps_workflow_id_position",
    "ix_executions_workflow_id_created_at",
    "ix_executions_user_id",
    "ix_executions_status",
    "ix_executions_created_at",
    "ix_executions_completed_at",
    "ux_step_runs_execution_id_step_key",
    "ux_execution_logs_execution_id_seq",
    "ix_execution_logs_created_at",
    "ix_templates_category",
    "ix_templates_type",
    "ix_templates_is_official",
    "ix_templates_is_public",
    "ix_templates_usage_count",
    "ix_deployments_user_id",
    "ix_deployments_workflow_id",
    "ix_deployments_agent_id",
    "ix_deployments_status",
    "ix_deployments_environment",
    "ux_api_keys_key_hash",
    "ix_api_keys_user_id",
    "ix_audit_logs_user_id",
    "ix_audit_logs_resource_type_resource_id",
    "ix_audit_logs_action",
    "ix_audit_logs_created_at",
}


async def test_the_indexes_of_the_storage_doc_exist(store: SqliteStore, path: Path):
    with raw(path) as connection:
        found = {
            name: unique
            for name, unique in connection.execute(
                "SELECT name, sql LIKE 'CREATE UNIQUE%' FROM sqlite_master "
                "WHERE type = 'index' AND sql IS NOT NULL"
            )
        }
    assert set(found) >= EXPECTED_INDEXES
    assert all(bool(found[name]) == name.startswith("ux_") for name in EXPECTED_INDEXES)


async def test_reopening_applies_nothing(store: SqliteStore, path: Path):
    before = await store.migration_status()
    assert await store.migrate() == []
    await store.close()
    again = SqliteStore(path)
    await again.open()
    try:
        assert await again.migrate() == []
        assert await again.migration_status() == before
    finally:
        await again.close()


async def test_a_changed_migration_file_is_refused(store: SqliteStore, path: Path):
    await store.close()
    with raw(path) as connection:
        connection.execute("UPDATE schema_migrations SET checksum = 'tampered' WHERE version = 1")
    tampered = SqliteStore(path)
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await tampered.open()
    with pytest.raises(TurbocatError):  # a failed open leaves the store closed
        await tampered.ping()


async def test_a_database_newer_than_the_code_is_refused(store: SqliteStore, path: Path):
    await store.close()
    with raw(path) as connection:
        connection.execute(
            "INSERT INTO schema_migrations VALUES (9999, 'future', 'x', '2030-01-01T00:00:00')"
        )
    with pytest.raises(MigrationError, match="does not know"):
        await SqliteStore(path).open()


def test_a_failing_migration_leaves_nothing_of_itself(tmp_path: Path):
    good = Migration(1, "good", "CREATE TABLE a (x INTEGER);")
    bad = Migration(2, "bad", "CREATE TABLE b (x INTEGER);\nINSERT INTO missing VALUES (1);")
    connection = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    try:
        with pytest.raises(MigrationError, match="0002_bad failed"):
            migrator.migrate(connection, [good, bad])
        assert not connection.in_transaction
        assert [row.version for row in migrator.applied(connection)] == [1]
        tables = {n for (n,) in connection.execute("SELECT name FROM sqlite_master")}
        assert "a" in tables
        assert "b" not in tables  # the failing file's first statement was undone too
        fixed = Migration(2, "bad", "CREATE TABLE b (x INTEGER);")
        applied = migrator.migrate(connection, [good, fixed])
        assert [state.version for state in applied] == [2]
    finally:
        connection.close()


def test_scripts_split_where_sqlite_says_a_statement_ends():
    script = """
    -- a comment; with a semicolon
    CREATE TABLE t (x TEXT DEFAULT 'a;b');
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN
        UPDATE t SET x = 'c;d';
    END;
    /* trailing */
    """
    found = migrator.statements(script)
    assert len(found) == 2
    assert found[0].endswith("DEFAULT 'a;b');")
    assert found[1].startswith("CREATE TRIGGER") and found[1].endswith("END;")
    with pytest.raises(MigrationError):
        migrator.statements("CREATE TABLE t (x TEXT DEFAULT 'open")


async def test_two_stores_opening_one_new_file_at_once_migrate_it_once(tmp_path: Path):
    import asyncio

    path = tmp_path / "shared.db"
    stores = [SqliteStore(path), SqliteStore(path)]
    try:
        await asyncio.gather(*(store.open() for store in stores))
        with raw(path) as connection:
            [(count,)] = connection.execute("SELECT count(*) FROM schema_migrations").fetchall()
        assert count == len(discover(migrator.PACKAGE))
    finally:
        for store in stores:
            await store.close()


async def test_wal_mode_and_foreign_keys(store: SqliteStore, path: Path, tmp_path: Path):
    with raw(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    def pragmas() -> tuple[Any, ...]:
        writer = store.worker.writer
        names = ("foreign_keys", "synchronous", "busy_timeout")
        return tuple(writer.execute(f"PRAGMA {name}").fetchone()[0] for name in names)

    assert await store.worker.run(pragmas) == (1, 1, 5000)  # synchronous 1 = NORMAL
    loose = SqliteStore(tmp_path / "loose.db", busy_timeout_ms=250, foreign_keys=False)
    await loose.open()
    try:
        writer = loose.worker.writer
        keys = await loose.worker.run(lambda: writer.execute("PRAGMA foreign_keys").fetchone())
        timeout = await loose.worker.run(lambda: writer.execute("PRAGMA busy_timeout").fetchone())
        assert (keys, timeout) == ((0,), (250,))  # enforcement can be turned off
    finally:
        await loose.close()


# --- constraints, through the repositories and through raw SQL -----------------------------


def _deployment(parents: Parents, **targets: Any) -> Deployment:
    valid = make.deployment(parents.user.id, workflow_id=parents.workflow.id)
    for name, value in targets.items():  # past the domain's own check, as a buggy caller might
        object.__setattr__(valid, name, value)
    return valid


CASES: list[tuple[str, type[TurbocatError], Callable[[Parents], tuple[str, Any]]]] = [
    (
        "deployment with both targets",
        ValidationFailed,
        lambda p: ("deployments", _deployment(p, agent_id=p.agent.id)),
    ),
    (
        "deployment with no target",
        ValidationFailed,
        lambda p: ("deployments", _deployment(p, workflow_id=None)),
    ),
    (
        "bad enum value",
        ValidationFailed,
        lambda p: ("agents", replace(p.agent, id=uuid4(), type="NOPE")),
    ),
    (
        "retry count 11",
        ValidationFailed,
        lambda p: ("steps", make.step(p.workflow.id, "late", agent_id=p.agent.id, retry_count=11)),
    ),
    (
        "negative counter",
        ValidationFailed,
        lambda p: ("agents", replace(p.agent, id=uuid4(), total_executions=-1)),
    ),
    (
        "execution of a missing workflow",
        ValidationFailed,
        lambda p: ("executions", make.execution(uuid4(), p.user.id)),
    ),
    (
        "agent of a missing user",
        ValidationFailed,
        lambda p: ("agents", replace(p.agent, id=uuid4(), user_id=uuid4())),
    ),
]


@pytest.mark.parametrize(("case", "error", "build"), CASES, ids=[case[0] for case in CASES])
async def test_the_schema_refuses_an_invalid_row_through_a_repository(
    store: SqliteStore, parents: Parents, case: str, error: type[TurbocatError], build: Any
):
    repository, row = build(parents)
    async with store.unit_of_work() as uow:
        with pytest.raises(error):
            await getattr(uow, repository).add(row)
        await uow.commit()  # the transaction goes on: only the refused statement is undone
    async with store.unit_of_work() as uow:
        if repository == "steps":
            assert await uow.steps.for_workflow(parents.workflow.id) == []
        else:
            assert await getattr(uow, repository).get(row.id) is None


def _insert(connection: sqlite3.Connection, table: str, entity: Any, **columns: Any) -> None:
    rows = schema.TABLES[table]
    params = {**rows.codec(SQLITE).params(entity), **columns}
    connection.execute(rows.insert(), params)


async def test_the_schema_refuses_invalid_rows_written_with_raw_sql(
    store: SqliteStore, parents: Parents, path: Path
):
    p = parents
    step = make.step(p.workflow.id, "a", agent_id=p.agent.id)
    key = make.api_key(p.user.id)
    with raw(path) as connection:
        _insert(connection, "workflow_steps", step)
        _insert(connection, "api_keys", key)
        refused = {
            "both targets": lambda: _insert(
                connection, "deployments", _deployment(p), agent_id=str(p.agent.id)
            ),
            "no target": lambda: _insert(
                connection, "deployments", _deployment(p), workflow_id=None
            ),
            "duplicate step key": lambda: _insert(
                connection, "workflow_steps", make.step(p.workflow.id, "a", agent_id=p.agent.id)
            ),
            "duplicate key hash": lambda: _insert(
                connection, "api_keys", make.api_key(p.user.id, key_hash=key.key_hash)
            ),
            "bad enum": lambda: _insert(connection, "agents", make.agent(p.user.id), type="NOPE"),
            "retry count 11": lambda: _insert(
                connection, "workflow_steps", make.step(p.workflow.id, "b"), retry_count=11
            ),
            "negative counter": lambda: _insert(
                connection, "agents", make.agent(p.user.id), failed_executions=-1
            ),
            "missing workflow": lambda: _insert(
                connection, "executions", make.execution(uuid4(), p.user.id)
            ),
            "duplicate email": lambda: _insert(
                connection, "users", make.user(), email=p.user.email
            ),
            "not a boolean": lambda: _insert(
                connection, "agents", make.agent(p.user.id), is_public=2
            ),
            "not JSON": lambda: _insert(
                connection, "agents", make.agent(p.user.id), config="{oops"
            ),
        }
        assert [name for name, write in refused.items() if _stored(write)] == []
        counts = connection.execute(
            "SELECT (SELECT count(*) FROM deployments), (SELECT count(*) FROM executions), "
            "(SELECT count(*) FROM agents), (SELECT count(*) FROM workflow_steps)"
        ).fetchone()
    assert counts == (0, 0, 1, 1)


async def test_uniqueness_through_the_repositories(store: SqliteStore, parents: Parents):
    p = parents
    step = make.step(p.workflow.id, "a", agent_id=p.agent.id)
    key = make.api_key(p.user.id)
    async with store.unit_of_work() as uow:
        await uow.steps.add(step)
        await uow.api_keys.add(key)
        await uow.commit()
    async with store.unit_of_work() as uow:
        with pytest.raises(Conflict, match="step with this workflow id and step key"):
            await uow.steps.add(make.step(p.workflow.id, "a", agent_id=p.agent.id))
        with pytest.raises(Conflict, match="API key with this key hash"):
            await uow.api_keys.add(make.api_key(p.user.id, key_hash=key.key_hash))
        with pytest.raises(Conflict, match="user with this email"):
            await uow.users.add(make.user(email=p.user.email.upper()))
        with pytest.raises(Conflict, match="agent with this id"):
            await uow.agents.add(p.agent)


async def test_a_refused_value_names_its_field(store: SqliteStore, parents: Parents):
    async with store.unit_of_work() as uow:
        with pytest.raises(ValidationFailed) as refused:
            await uow.steps.add(make.step(parents.workflow.id, retry_count=11))
        with pytest.raises(ValidationFailed) as not_json:
            await uow.agents.add(make.agent(parents.user.id, config={"when": T0}))
    assert [detail.field for detail in refused.value.details] == ["retry_count"]
    assert [detail.field for detail in not_json.value.details] == ["config"]


def _stored(write: Callable[[], None]) -> bool:
    try:
        write()
    except sqlite3.IntegrityError:
        return False
    return True


async def test_values_on_disk_have_the_documented_types(
    store: SqliteStore, parents: Parents, path: Path
):
    user = make.user(email=" Mixed@Example.COM ", last_login_at=at(1.5), is_active=False)
    async with store.unit_of_work() as uow:
        await uow.users.add(user)
        await uow.commit()
    with raw(path) as connection:
        row = connection.execute(
            "SELECT id, email, created_at, last_login_at, is_active, preferences FROM users "
            "WHERE id = ?",
            (str(user.id),),
        ).fetchone()
        tags = connection.execute(
            "SELECT tags, typeof(is_public) FROM agents WHERE id = ?", (str(parents.agent.id),)
        ).fetchone()
    assert row == (
        str(user.id),
        "mixed@example.com",
        "2026-01-01T00:00:00.000000+00:00",
        "2026-01-01T00:00:01.500000+00:00",
        0,
        '{"theme":"dark","alerts":["email"]}',
    )
    assert tags == ('["finance"]', "integer")


async def test_deleting_an_execution_takes_its_runs_and_lines_with_it(
    store: SqliteStore, parents: Parents, path: Path
):
    execution = make.execution(parents.workflow.id, parents.user.id)
    async with store.unit_of_work() as uow:
        await uow.executions.add(execution)
        await uow.step_runs.save(make.step_run(execution.id))
        await uow.logs.append([make.log_line(execution.id)])
        await uow.commit()
    with raw(path) as connection:
        connection.execute("DELETE FROM executions WHERE id = ?", (str(execution.id),))
        left = connection.execute(
            "SELECT (SELECT count(*) FROM step_runs), (SELECT count(*) FROM execution_logs)"
        ).fetchone()
    assert left == (0, 0)


async def test_the_local_owner_is_inserted_once_by_the_migrations(store: SqliteStore, path: Path):
    await store.close()
    again = SqliteStore(path)
    await again.open()  # and migrated again: nothing to apply, the row still one
    try:
        await again.migrate()
        async with again.unit_of_work() as uow:
            owner = await uow.users.get(LOCAL_OWNER_ID)
    finally:
        await again.close()
    assert owner is not None and not owner.is_active
    with sqlite3.connect(path) as raw:
        rows = raw.execute("SELECT count(*) FROM users WHERE id = ?", (str(LOCAL_OWNER_ID),))
        assert rows.fetchone() == (1,)


def test_rebuilding_the_agents_table_keeps_its_rows_and_every_reference(tmp_path: Path):
    """0008 rebuilds ``agents`` (SQLite cannot change a CHECK) under a file made by 0001-0007
    holding agents that steps, deployments and other agents refer to."""
    migrations = discover(migrator.PACKAGE)
    rebuild = next(m for m in migrations if m.name == "function_agents")
    before = [m for m in migrations if m.version < rebuild.version]
    file = tmp_path / "old.db"
    connection = sqlite3.connect(file, isolation_level=None)
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        migrator.migrate(connection, before)
        owner = make.user()
        flow = make.workflow(owner.id)
        parent = make.agent(owner.id)
        child = make.agent(owner.id, parent_id=parent.id, name="child")
        step = make.step(flow.id, agent_id=child.id)
        deployment = Deployment(
            id=uuid4(), created_at=T0, updated_at=T0, user_id=owner.id, name="d",
            agent_id=parent.id,
        )  # fmt: skip
        _insert(connection, "users", owner)
        _insert(connection, "workflows", flow)
        for row in (parent, child):
            _insert(connection, "agents", row)
        _insert(connection, "workflow_steps", step)
        _insert(connection, "deployments", deployment)
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            _insert(connection, "agents", make.agent(owner.id), type="FUNCTION")

        applied = migrator.migrate(connection, migrations)

        assert [state.version for state in applied] == [
            m.version for m in migrations if m.version >= rebuild.version
        ]
        assert connection.execute("PRAGMA foreign_keys").fetchone() == (1,)  # restored
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        names = {n for (n,) in connection.execute("SELECT name FROM sqlite_master")}
        assert "agents_new" not in names
        assert {i for i in EXPECTED_INDEXES if i.startswith("ix_agents_")} <= names
        rows = connection.execute("SELECT id, parent_id FROM agents ORDER BY name").fetchall()
        assert rows == [(str(child.id), str(parent.id)), (str(parent.id), None)]
        function = make.agent(owner.id, type="FUNCTION", config={"function": "total"})
        _insert(connection, "agents", function)  # the new type is accepted
        # The references to agents still hold: a step naming a missing agent is refused.
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            _insert(connection, "workflow_steps", make.step(flow.id, "x", agent_id=uuid4()))
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            connection.execute("DELETE FROM agents WHERE id = ?", (str(child.id),))
    finally:
        connection.close()


def test_a_migration_leaving_a_broken_reference_is_refused(tmp_path: Path):
    schema = Migration(1, "schema", "CREATE TABLE p (id INTEGER PRIMARY KEY);\n"
                       "CREATE TABLE c (p INTEGER REFERENCES p (id));")  # fmt: skip
    orphan = Migration(2, "orphan", "INSERT INTO c VALUES (7);")
    connection = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        with pytest.raises(MigrationError, match="0002_orphan failed: 1 row"):
            migrator.migrate(connection, [schema, orphan])
        assert [row.version for row in migrator.applied(connection)] == [1]
        assert connection.execute("SELECT count(*) FROM c").fetchone() == (0,)
        assert connection.execute("PRAGMA foreign_keys").fetchone() == (1,)
    finally:
        connection.close()
