"""The docs and the code cite only what a reader of the repository can open: no section of a
specification that is not in it, no number of an issue tracker they cannot see."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = re.compile(r"SPEC §|\bSPEC's\b|\bthe SPEC\b|\b[Ii]ssues? #?\d+")


def test_nothing_cites_a_document_outside_the_repository():
    files = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "src").rglob("*.py")]
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == []
