"""Wire encoding (camelCase, secrets left out, user data untouched) and settings parsing."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid4

import pytest
from dependency_injector import providers

from tests.core.builders import T0
from turbocat_adapters.container import Container
from turbocat_adapters.settings import Settings
from turbocat_adapters.wire import encode, wire_path
from turbocat_core.domain.agent import Agent, AgentType
from turbocat_core.domain.common import camel
from turbocat_core.domain.user import User
from turbocat_core.errors import ValidationFailed


def test_domain_objects_go_out_in_camel_case_with_user_data_as_it_is():
    agent = Agent(
        id=uuid4(),
        created_at=T0,
        updated_at=T0,
        user_id=uuid4(),
        name="a",
        type=AgentType.DATA,
        config={"snake_key": 1, "nested": {"max_items": 2}},
        tags=("x",),
    )
    wire = json.loads(encode(agent))
    assert wire["maxExecutionTime"] == 300 and wire["avgExecutionTimeMs"] == 0.0
    assert wire["config"] == {"snake_key": 1, "nested": {"max_items": 2}}
    assert wire["createdAt"] == "2026-01-01T00:00:00Z" and wire["type"] == "DATA"
    assert wire["tags"] == ["x"] and wire["parentId"] is None


def test_secret_fields_never_reach_the_wire():
    user = User(
        id=uuid4(), created_at=T0, updated_at=T0, email="a@b.co", password_hash="$2b$12$secret"
    )
    text = encode(user).decode()
    assert "passwordHash" not in text and "secret" not in text
    assert json.loads(text)["email"] == "a@b.co"


def test_times_go_out_in_utc_with_z_and_durations_without_float_noise():
    from datetime import timedelta, timezone

    from turbocat_core.domain.analytics import Durations

    paris = T0.astimezone(timezone(timedelta(hours=1)))
    agent = Agent(
        id=uuid4(), created_at=paris, updated_at=T0, user_id=uuid4(), name="a", type=AgentType.DATA
    )
    wire = json.loads(encode(agent))
    assert wire["createdAt"] == wire["updatedAt"] == "2026-01-01T00:00:00Z"
    durations = json.loads(encode(Durations(count=2, avg_ms=1.0070000000000001, max_ms=2.5)))
    assert (durations["avgMs"], durations["maxMs"]) == (1.007, 2.5)


def test_camel():
    assert camel("avg_execution_time_ms") == "avgExecutionTimeMs" and camel("id") == "id"


@pytest.mark.parametrize(
    ("core", "wire"),
    [
        ("full_name", "fullName"),
        ("steps.2.depends_on", "steps.2.dependsOn"),
        ("steps.fetch_data.retry_count", "steps.fetch_data.retryCount"),  # a step key kept
        ("steps.0.dependsOn", "steps.0.dependsOn"),
        ("environment_variables.API_KEY", "environmentVariables.API_KEY"),
        ("config.max_tokens", "config.max_tokens"),  # inside a document: the user's keys
        ("template_data.config", "templateData.config"),
        ("agents.my_agent.type", "agents.my_agent.type"),
        ("customizations.my_key", "customizations.my_key"),
        ("TURBOCAT_ENV", "TURBOCAT_ENV"),
    ],
)
def test_core_field_paths_take_the_wire_names_and_leave_user_keys_alone(core: str, wire: str):
    assert wire_path(core) == wire


def test_settings_from_the_environment_over_a_dotenv_file(tmp_path: Path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# comment\nexport TURBOCAT_RETENTION_DAYS=7\nTURBOCAT_DATA_DIR='/var/lib/tc'\n"
        "TURBOCAT_MAX_STEP_OUTPUT_BYTES=100\n"
    )
    settings = Settings.load({"TURBOCAT_MAX_STEP_OUTPUT_BYTES": "2048"}, dotenv)
    assert settings.retention_days == 7
    assert settings.data_dir == Path("/var/lib/tc")
    assert settings.max_step_output_bytes == 2048  # a real variable wins over .env
    assert Settings.load({}, tmp_path / "absent").env == "development"
    assert Settings.load({}, tmp_path / "absent").max_run_recoveries == 2
    assert Settings.load({"TURBOCAT_MAX_RUN_RECOVERIES": "5"}, dotenv).max_run_recoveries == 5


def test_metrics_are_on_unless_turned_off_and_may_be_restricted(tmp_path: Path):
    absent = tmp_path / "absent"
    default = Settings.load({}, absent)
    assert default.metrics and default.metrics_token is None and default.metrics_allow == ()
    assert not Settings.load({"TURBOCAT_METRICS": "false"}, absent).metrics
    restricted = Settings.load(
        {"TURBOCAT_METRICS_TOKEN": "scrape", "TURBOCAT_METRICS_ALLOW": "10.1.2.3, 10.0.0.0/8,::1"},
        absent,
    )
    assert restricted.metrics_token == "scrape"
    assert restricted.metrics_allow == ("10.1.2.3/32", "10.0.0.0/8", "::1/128")


def test_the_resolved_input_bound_follows_the_output_limit_unless_set(tmp_path: Path):
    absent = tmp_path / "absent"
    assert Settings.load({}, absent).max_resolved_input_bytes == 4 * 1024 * 1024
    raised = Settings.load({"TURBOCAT_MAX_STEP_OUTPUT_BYTES": "10000"}, absent)
    assert raised.max_resolved_input_bytes == 40000
    both = {"TURBOCAT_MAX_STEP_OUTPUT_BYTES": "10000", "TURBOCAT_MAX_RESOLVED_INPUT_BYTES": "500"}
    assert Settings.load(both, absent).max_resolved_input_bytes == 500
    container = Container(settings=providers.Object(Settings.load(both, absent)))
    assert container.engine.kwargs["settings"]().max_resolved_input_bytes == 500
    data = container.executors().get(AgentType.DATA)
    assert data.max_resolved_bytes == 500  # type: ignore[attr-defined]


def test_functions_are_a_comma_list_of_module_names(tmp_path: Path):
    absent = tmp_path / "absent"
    assert Settings.load({}, absent).functions == ()
    listed = {"TURBOCAT_FUNCTIONS": " tasks, billing.steps ,,tasks"}
    assert Settings.load(listed, absent).functions == ("tasks", "billing.steps")


@pytest.mark.parametrize(
    ("environ", "field"),
    [
        ({"TURBOCAT_RETENTION_DAYS": "soon"}, "TURBOCAT_RETENTION_DAYS"),
        ({"TURBOCAT_MAX_STEP_OUTPUT_BYTES": "0"}, "TURBOCAT_MAX_STEP_OUTPUT_BYTES"),
        ({"TURBOCAT_MAX_RESOLVED_INPUT_BYTES": "0"}, "TURBOCAT_MAX_RESOLVED_INPUT_BYTES"),
        ({"TURBOCAT_MAX_RUN_RECOVERIES": "0"}, "TURBOCAT_MAX_RUN_RECOVERIES"),
        ({"TURBOCAT_ENV": "staging"}, "TURBOCAT_ENV"),
        ({"TURBOCAT_FUNCTIONS": "tasks,my-steps"}, "TURBOCAT_FUNCTIONS"),
        ({"TURBOCAT_FUNCTIONS": "tasks.steps:run"}, "TURBOCAT_FUNCTIONS"),
        ({"TURBOCAT_FUNCTIONS": "tasks..steps"}, "TURBOCAT_FUNCTIONS"),
        ({"TURBOCAT_METRICS": "maybe"}, "TURBOCAT_METRICS"),
        ({"TURBOCAT_METRICS_ALLOW": "10.0.0.0/8,office"}, "TURBOCAT_METRICS_ALLOW"),
    ],
)
def test_bad_settings_name_the_variable(tmp_path: Path, environ, field):
    with pytest.raises(ValidationFailed) as caught:
        Settings.load(environ, tmp_path / "absent")
    assert caught.value.details[0].field == field
