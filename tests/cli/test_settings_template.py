"""`.env.example` is what `turbocat settings --example` prints from the settings class, and
names exactly the variables the class reads."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from turbocat_adapters.secrets_file import with_secrets
from turbocat_adapters.settings import Settings, example_env
from turbocat_core.errors import ValidationFailed

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / ".env.example"
REGENERATE = "the settings changed: `turbocat settings --example > .env.example`"
VARIABLE = re.compile(r"^(?:# )?(TURBOCAT_[A-Z_]+)=(.*)$", re.MULTILINE)


def template_variables() -> dict[str, str]:
    return dict(VARIABLE.findall(TEMPLATE.read_text(encoding="utf-8")))


@pytest.mark.slow  # a process
def test_the_committed_template_is_what_the_command_prints():
    printed = subprocess.run(
        [sys.executable, "-m", "turbocat_cli", "settings", "--example"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    ).stdout
    assert printed == TEMPLATE.read_text(encoding="utf-8"), REGENERATE


def test_every_variable_in_the_template_is_one_the_settings_read():
    read = set(re.findall(r'"(TURBOCAT_[A-Z_]+)"', inspect.getsource(Settings.load)))
    assert set(template_variables()) == read


def test_the_template_matches_the_settings_class():
    assert example_env() == TEMPLATE.read_text(encoding="utf-8"), REGENERATE


def test_each_setting_has_a_line_of_documentation_and_its_default(tmp_path):
    no_dotenv = tmp_path / ".env"
    text = TEMPLATE.read_text(encoding="utf-8")
    for name, default in template_variables().items():
        assert re.search(rf"^# \S.*\n(# )?{name}=", text, re.MULTILINE), name
        # The default shown is the one the class applies when the variable is unset.
        if default:
            assert Settings.load({name: default}, dotenv=no_dotenv) == Settings.load(
                {}, dotenv=no_dotenv
            ), name


def test_production_refuses_to_start_without_exactly_those_marked_required(tmp_path):
    lines = TEMPLATE.read_text(encoding="utf-8").splitlines()
    required = {line.partition("=")[0] for line in lines if line and not line.startswith("#")}
    assert required == {"TURBOCAT_JWT_SECRET", "TURBOCAT_ENCRYPTION_KEY"}
    settings = Settings.load(
        {"TURBOCAT_ENV": "production", "TURBOCAT_DATA_DIR": str(tmp_path)},
        dotenv=tmp_path / ".env",
    )
    with pytest.raises(ValidationFailed) as refused:
        with_secrets(settings)
    assert {detail.field for detail in refused.value.details} == required


def test_the_operations_guide_lists_every_setting():
    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert [name for name in template_variables() if f"`{name}`" not in guide] == []
