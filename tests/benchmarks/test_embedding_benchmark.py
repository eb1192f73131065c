"""Smoke run of benchmarks/embedding.py: the Turbocat memory:// part, as a user runs it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "embedding.py"


@pytest.mark.slow
def test_quick_run_prints_turbocat_memory_figures_and_load() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--only", "turbocat-memory"],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert re.search(r"^20-step chain .*load average \d+\.\d\d", out, re.MULTILINE), out
    figure = re.search(r"^\s+turbocat-memory\s+(\d+\.\d) µs/step", out, re.MULTILINE)
    assert figure is not None, out
    assert float(figure.group(1)) > 0
    assert re.search(
        r"^Turbocat on memory://: \d+\.\d µs/step \(target at most 60: (met|missed)\)",
        out,
        re.MULTILINE,
    ), out
    assert re.search(r"^load average at the end: \d+\.\d\d", out, re.MULTILINE), out
    assert "dbos-sqlite" not in out  # only what was asked for ran
    assert "Turbocat / DBOS" not in out


def test_an_unknown_measurement_is_refused_with_the_known_ones() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--only", "turbocat-mysql"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown measurement(s) turbocat-mysql" in done.stderr
    assert "turbocat-memory" in done.stderr
