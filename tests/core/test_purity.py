"""The core imports only the standard library (DESIGN.md), checked from the source."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "src" / "turbocat_core"


def test_the_core_imports_nothing_outside_the_standard_library():
    allowed = set(sys.stdlib_module_names) | {"__future__", "turbocat_core"}
    offending = []
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 20
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offending += [f"{path.name}: {n}" for n in names if n.split(".")[0] not in allowed]
    assert offending == []
