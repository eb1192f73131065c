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


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_of(path: Path, modules: set[str]) -> set[str]:
    """The core modules a file imports (``from package import module`` names the module)."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path.name}: relative import"
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                imported.add(submodule if submodule in modules else node.module)
    return imported & modules


def test_the_core_modules_import_one_another_without_a_circle():
    # Type-only imports count: an agent naming the Engine would close a circle with the
    # engine, which hands agents their RunContext (agents/contract.py).
    files = {_module_name(path): path for path in sorted(CORE.rglob("*.py"))}
    modules = set(files)
    graph = {module: _imports_of(path, modules) for module, path in files.items()}
    assert "turbocat_core.engine.runner" in graph
    assert "turbocat_core.agents.contract" in graph["turbocat_core.engine.runner"]

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
