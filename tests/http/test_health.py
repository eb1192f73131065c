"""Health probes over the memory store, the embedded SQLite file and an unreachable server."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from tests.http.conftest import container_for, http_settings, serve
from turbocat_core import __version__
from turbocat_http.app import create_app


async def test_health_reports_version_uptime_and_the_database(client):
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert body["uptimeSeconds"] >= 0
    database = body["checks"]["database"]
    assert database["status"] == "ok" and database["kind"] == "memory"
    assert database["latencyMs"] >= 0 and database["pendingMigrations"] == 0
    assert "success" not in body  # probes answer plain objects, not the envelope
    assert response.headers["cache-control"] == "no-store"


async def test_live_and_ready(client):
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


async def test_the_probes_are_outside_the_api_prefix(client):
    assert (await client.get("/api/v1/health")).status_code == 404


async def test_ready_on_the_default_sqlite_store(tmp_path):
    settings = http_settings(database_url=None, data_dir=tmp_path / "data")
    async with serve(create_app(container_for(settings))) as client:
        response = await client.get("/health/ready")
        assert response.status_code == 200, response.text
        database = response.json()["checks"]["database"]
        assert database["kind"] == "sqlite" and database["pendingMigrations"] == 0
    assert (tmp_path / "data" / "turbocat.db").exists()


async def test_the_store_is_opened_on_startup_and_closed_on_shutdown(tmp_path):
    container = container_for(http_settings(database_url=None, data_dir=tmp_path))
    app = create_app(container)
    store = container.store()
    async with AsyncTestClient(app=app):
        await store.ping()
    with pytest.raises(Exception):  # noqa: B017, PT011 - closed: any failure will do
        await store.ping()


async def test_ready_is_503_while_the_database_is_unreachable():
    pytest.importorskip("psycopg_pool")
    settings = http_settings(database_url="postgresql://turbocat:pw@127.0.0.1:1/turbocat")
    async with serve(create_app(container_for(settings))) as client:
        response = await client.get("/health/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        database = body["checks"]["database"]
        assert database["status"] == "down" and database["kind"] == "postgres"
        assert database["error"] and "pw" not in response.text
        health = await client.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "degraded"
        assert (await client.get("/health/live")).status_code == 200


async def test_ready_is_503_while_a_migration_is_pending():
    from turbocat_adapters.memory import MemoryStore
    from turbocat_adapters.store_contract import MigrationState

    class Unmigrated(MemoryStore):
        async def migration_status(self) -> list[MigrationState]:
            return [MigrationState(version=1, name="0001_initial", applied_at=None)]

    container = container_for(http_settings())
    container.store.override(Unmigrated())
    async with serve(create_app(container)) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["pendingMigrations"] == 1


async def test_a_check_that_hangs_times_out(monkeypatch):
    import asyncio

    from turbocat_adapters.memory import MemoryStore
    from turbocat_http.health import checks

    class Hanging(MemoryStore):
        async def ping(self) -> None:
            await asyncio.sleep(60)

    monkeypatch.setattr(checks, "CHECK_TIMEOUT", 0.05)
    result = await checks.check_database(Hanging(), timeout=0.05)
    assert result.status == "down" and result.error == "timed out"
