"""Which SQLite file a ``sqlite:`` URL names: the rule SQLAlchemy and DBOS follow."""

from __future__ import annotations

from pathlib import Path

import pytest

from turbocat_adapters.database_url import sqlite_path
from turbocat_core.errors import ValidationFailed


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///runs.db", "runs.db"),
        ("sqlite:///data/runs.db", "data/runs.db"),
        ("sqlite:////var/lib/app/runs.db", "/var/lib/app/runs.db"),
        ("sqlite:runs.db", "runs.db"),
        ("sqlite:/var/lib/app/runs.db", "/var/lib/app/runs.db"),
    ],
)
def test_three_slashes_then_the_path(url: str, path: str) -> None:
    assert sqlite_path(url) == Path(path)


@pytest.mark.parametrize("url", ["sqlite:", "sqlite://", "sqlite:///"])
def test_a_url_without_a_path_is_refused(url: str) -> None:
    with pytest.raises(ValidationFailed, match="needs a file path"):
        sqlite_path(url)


def test_a_url_with_a_host_is_refused_with_both_forms_named() -> None:
    with pytest.raises(ValidationFailed) as raised:
        sqlite_path("sqlite://runs.db")
    assert "sqlite:///relative/path.db" in raised.value.details[0].message
