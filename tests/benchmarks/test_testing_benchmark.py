"""Smoke run of benchmarks/testing.py: it runs as a user runs it and prints its figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "testing.py"


@pytest.mark.slow
def test_a_small_run_prints_every_figure_and_the_load() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--examples", "20", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    for label in ("executed", "end to end", "drawn only", "1-hour WAIT"):
        assert re.search(rf"{label}.*\d+\.\d", done.stdout), done.stdout
    assert re.search(r"load average \d+\.\d\d", done.stdout), done.stdout
