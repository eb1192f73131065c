"""docs/testing.md, run as a reader runs it: its test modules written to a folder, and
pytest run there (in a process of its own, with the kit's plugin loaded by its entry
point, as in a user's project)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.test_embedding import read_blocks

PAGE = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def test_every_block_is_a_test_module_or_marked_as_shown():
    blocks = read_blocks(PAGE)
    assert blocks
    for block in blocks:
        assert block.marker in ("file", "not run"), f"docs/testing.md:{block.line}: unmarked"


@pytest.mark.slow
def test_the_pages_test_modules_pass(tmp_path: Path):
    modules = [block for block in read_blocks(PAGE) if block.marker == "file"]
    assert len(modules) >= 5
    for block in modules:
        assert block.argument and block.argument.startswith("test_"), block.line
        (tmp_path / block.argument).write_text(block.text)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " failed" not in done.stdout and " passed" in done.stdout
