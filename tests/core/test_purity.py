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


def test_the_engine_modules_import_one_another_without_a_circle():
    # Type-only imports count: a part that names the Engine would close a circle with runner.
    package = "turbocat_core.engine"
    graph: dict[str, set[str]] = {}
    for path in sorted((CORE / "engine").glob("*.py")):
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == package:
                    imported |= {alias.name for alias in node.names}
                elif node.module.startswith(package + "."):
                    imported.add(node.module.removeprefix(package + "."))
        graph[path.stem] = imported
    assert "runner" in graph and "state" in graph

    done: set[str] = set()

    def circle_from(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, ())):
            found = circle_from(imported, [*path, module])
            if found:
                return found
        done.add(module)
        return None

    assert [c for m in sorted(graph) if (c := circle_from(m, []))] == []
