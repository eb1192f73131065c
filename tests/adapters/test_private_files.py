"""The data dir and the files kept there are private to the server's user (0700 / 0600)."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from turbocat_adapters.private_files import private_dir, private_file, tighten_dir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_dir_and_file_are_private(tmp_path: Path):
    data = tmp_path / "a" / "data"
    private_dir(data)
    private_file(data / "turbocat.db")
    assert mode(data) == 0o700
    assert mode(data / "turbocat.db") == 0o600


def test_a_loose_data_dir_and_file_are_tightened_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "turbocat.db").write_text("")
    (data / "turbocat.db").chmod(0o644)
    with caplog.at_level(logging.WARNING):
        tighten_dir(data)
        private_file(data / "turbocat.db")
    assert mode(data) == 0o700
    assert mode(data / "turbocat.db") == 0o600
    assert "could be read by other users (mode 755): now 700" in caplog.text
    caplog.clear()
    tighten_dir(data)  # tight now: nothing to say
    assert caplog.text == ""


def test_a_directory_shared_with_other_things_is_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    (shared / "someone-elses.txt").write_text("")
    with caplog.at_level(logging.WARNING):
        private_dir(shared)
    assert mode(shared) == 0o755
    assert "holds more than Turbocat's files (someone-elses.txt): not changed" in caplog.text
