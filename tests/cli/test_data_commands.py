"""`turbocat db migrate|status|reseal` and `turbocat seed` as a user runs them (SQLite,
PostgreSQL)."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests.contracts import factories
from tests.databases import require_postgres, temporary_database
from turbocat_adapters.container import Container
from turbocat_adapters.crypto import AesGcmSecretBox
from turbocat_adapters.settings import Settings
from turbocat_core.domain.deployment import Deployment

pytestmark = pytest.mark.slow  # each test runs `turbocat` as a process

ROOT = Path(__file__).resolve().parents[2]


def turbocat(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TURBOCAT_")}
    environ.update(TURBOCAT_BCRYPT_ROUNDS="4", **env)
    return subprocess.run(
        [sys.executable, "-m", "turbocat_cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=environ,
    )


def test_the_embedded_store_migrates_itself_and_seeds_once(tmp_path: Path):
    data = str(tmp_path / "data")
    status = turbocat("db", "status", TURBOCAT_DATA_DIR=data)
    assert status.returncode == 0, status.stderr
    assert "0001" in status.stdout and "pending" not in status.stdout
    assert (tmp_path / "data" / "turbocat.db").exists()
    migrated = turbocat("db", "migrate", TURBOCAT_DATA_DIR=data)
    assert "nothing to apply" in migrated.stdout

    first = turbocat("seed", TURBOCAT_DATA_DIR=data, TURBOCAT_SEED_ADMIN_PASSWORD="Admin-Passw0rd!")
    assert first.returncode == 0, first.stderr
    assert "created user admin@turbocat.dev (ADMIN)" in first.stdout
    assert first.stdout.count("created agent") == 5
    assert first.stdout.count("created template") == 6
    assert "password for demo@turbocat.dev" in first.stdout
    assert "password for admin@turbocat.dev" not in first.stdout  # it was given, not generated

    again = turbocat("seed", TURBOCAT_DATA_DIR=data)
    assert again.returncode == 0
    assert "created" not in again.stdout and "password" not in again.stdout
    assert "15 item(s) already there" in again.stdout


def test_postgres_needs_migrating_before_seeding(tmp_path: Path):
    require_postgres()
    with temporary_database("turbocat_cli") as dsn:
        before = turbocat("seed", TURBOCAT_DATABASE_URL=dsn)
        assert before.returncode == 1
        assert "pending: run `turbocat db migrate` first" in before.stderr
        pending = turbocat("db", "status", TURBOCAT_DATABASE_URL=dsn)
        assert "pending" in pending.stdout
        migrated = turbocat("db", "migrate", TURBOCAT_DATABASE_URL=dsn)
        assert migrated.returncode == 0 and "applied 0001_initial" in migrated.stdout
        seeded = turbocat("seed", TURBOCAT_DATABASE_URL=dsn)
        assert seeded.returncode == 0 and seeded.stdout.count("created workflow") == 2


def test_an_unreachable_database_is_one_line():
    result = turbocat(
        "db", "status", TURBOCAT_DATABASE_URL="postgresql://nobody:secret@127.0.0.1:1/x"
    )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "secret" not in result.stderr


def test_reseal_after_rotating_the_encryption_key(tmp_path: Path):
    data = str(tmp_path / "data")
    old_key, new_key = (base64.urlsafe_b64encode(os.urandom(32)).decode() for _ in range(2))
    old_box = AesGcmSecretBox.from_settings(old_key)
    settings = Settings(data_dir=Path(data), encryption_key=old_key)

    async def stored_deployment() -> Deployment | None:
        container = Container()
        container.settings.override(settings)
        store = container.store()
        await store.open()
        try:
            async with store.unit_of_work() as uow:
                existing = await uow.deployments.get(sealed.id)
                if existing is None:
                    owner = factories.user()
                    await uow.users.add(owner)
                    flow = factories.workflow(owner.id)
                    await uow.workflows.add(flow)
                    await uow.deployments.add(
                        replace(sealed, user_id=owner.id, workflow_id=flow.id)
                    )
                    await uow.commit()
                return existing
        finally:
            await store.close()

    sealed = factories.deployment(
        environment_variables={"TOKEN": old_box.encrypt("t-1")},
        webhook_secret=old_box.encrypt("whsec"),
    )
    asyncio.run(stored_deployment())

    # The new key alone cannot open the old values: nothing changes, exit 1, names them.
    lost = turbocat("db", "reseal", TURBOCAT_DATA_DIR=data, TURBOCAT_ENCRYPTION_KEY=new_key)
    assert lost.returncode == 1
    assert f"deployment {sealed.id} TOKEN" in lost.stderr and "@webhook" in lost.stderr

    rotated = turbocat(
        "db",
        "reseal",
        TURBOCAT_DATA_DIR=data,
        TURBOCAT_ENCRYPTION_KEY=new_key,
        TURBOCAT_PREVIOUS_ENCRYPTION_KEYS=old_key,
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted the secrets of 1 deployment(s)" in rotated.stdout

    after = asyncio.run(stored_deployment())
    assert after is not None and after.webhook_secret is not None
    new_box = AesGcmSecretBox.from_settings(new_key)
    assert new_box.decrypt(after.environment_variables["TOKEN"]) == "t-1"
    assert new_box.decrypt(after.webhook_secret) == "whsec"

    bad = turbocat(
        "db", "reseal", TURBOCAT_DATA_DIR=data, TURBOCAT_PREVIOUS_ENCRYPTION_KEYS="short"
    )
    assert bad.returncode == 1 and "TURBOCAT_PREVIOUS_ENCRYPTION_KEYS" in bad.stderr
