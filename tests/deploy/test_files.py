"""The deployment kit's files pass their linters: hadolint for the Dockerfile, the Compose
specification's JSON schema (as check-jsonschema ships it) for compose.yaml."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.cli.test_serve import ROOT


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is not installed (pip install -e '.[dev]')")
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_hadolint_finds_nothing_in_the_dockerfile():
    done = _run("hadolint", "Dockerfile")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_compose_file_matches_the_compose_specification():
    done = _run("check-jsonschema", "--builtin-schema", "vendor.compose-spec", "compose.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_file_keeps_secrets_out_and_orders_the_start():
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    for name in ("migrate", "server", "worker"):
        assert services[name]["env_file"] == ".env"
        environment = services[name].get("environment", {})
        assert not any("SECRET" in key or "KEY" in key for key in environment), environment
        assert services[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for name in ("server", "worker"):
        wanted = {"condition": "service_completed_successfully"}
        assert services[name]["depends_on"]["migrate"] == wanted
        assert services[name]["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert services["worker"]["deploy"]["replicas"] == 2
    assert "--appendonly" in services["redis"]["command"]
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
