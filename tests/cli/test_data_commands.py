"""`turbocat db migrate|status` and `turbocat seed` as a user runs them (SQLite, PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.databases import require_postgres, temporary_database

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
