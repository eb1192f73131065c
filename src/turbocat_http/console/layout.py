"""A workflow's DAG laid out in layers for SVG: each step in the column after its deepest
dependency, each column ordered to keep edges short (the mean row of a step's parents)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from turbocat_core.domain.workflow import WorkflowStep
from turbocat_core.engine.dag import dependencies

NODE_WIDTH: Final = 168
NODE_HEIGHT: Final = 40
COLUMN_GAP: Final = 56
ROW_GAP: Final = 16
MARGIN: Final = 12
MAX_LABEL: Final = 22


@dataclass(frozen=True, slots=True)
class Node:
    key: str
    label: str
    step_type: str
    layer: int
    row: int
    x: int
    y: int


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    path: str
    """The SVG path: a cubic curve from the source's right side to the target's left side."""


@dataclass(frozen=True, slots=True)
class Layout:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: int
    height: int

    @property
    def node_width(self) -> int:
        return NODE_WIDTH

    @property
    def node_height(self) -> int:
        return NODE_HEIGHT


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def layers_of(deps: dict[str, tuple[str, ...]], order: Sequence[str]) -> dict[str, int]:
    """Longest path from a root, for each key (a cycle, which validation refuses, is cut)."""
    layer: dict[str, int] = {}
    visiting: set[str] = set()

    def depth(key: str) -> int:
        known = layer.get(key)
        if known is not None:
            return known
        if key in visiting:
            return 0
        visiting.add(key)
        value = max((depth(dep) + 1 for dep in deps.get(key, ())), default=0)
        visiting.discard(key)
        layer[key] = value
        return value

    for key in order:
        depth(key)
    return layer


def lay_out(steps: Sequence[WorkflowStep]) -> Layout:
    """Columns by dependency depth, rows by the parents' mean row (ties: the steps' order)."""
    ordered = sorted(steps, key=lambda step: (step.position, step.step_key))
    deps = dependencies(ordered)
    keys = [step.step_key for step in ordered]
    layer = layers_of(deps, keys)
    columns: dict[int, list[str]] = {}
    for key in keys:
        columns.setdefault(layer[key], []).append(key)
    row: dict[str, int] = {}
    for index in sorted(columns):
        column = columns[index]
        tie = {key: i for i, key in enumerate(column)}

        def weight(key: str, tie: dict[str, int] = tie) -> tuple[float, int]:
            parents = [row[dep] for dep in deps.get(key, ()) if dep in row]
            return (sum(parents) / len(parents) if parents else float(tie[key]), tie[key])

        column.sort(key=weight)
        for i, key in enumerate(column):
            row[key] = i
    by_key = {step.step_key: step for step in ordered}
    nodes = tuple(
        Node(
            key=key,
            label=_short(by_key[key].step_name or key),
            step_type=by_key[key].step_type.value,
            layer=layer[key],
            row=row[key],
            x=MARGIN + layer[key] * (NODE_WIDTH + COLUMN_GAP),
            y=MARGIN + row[key] * (NODE_HEIGHT + ROW_GAP),
        )
        for key in keys
    )
    at = {node.key: node for node in nodes}
    edges = []
    for key in keys:
        for dep in deps.get(key, ()):
            source, target = at[dep], at[key]
            x1, y1 = source.x + NODE_WIDTH, source.y + NODE_HEIGHT // 2
            x2, y2 = target.x, target.y + NODE_HEIGHT // 2
            bend = (x2 - x1) // 2
            path = f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"
            edges.append(Edge(source=dep, target=key, path=path))
    width = MARGIN * 2 + (max(layer.values(), default=0) + 1) * (NODE_WIDTH + COLUMN_GAP)
    tallest = max((len(column) for column in columns.values()), default=1)
    height = MARGIN * 2 + tallest * (NODE_HEIGHT + ROW_GAP)
    return Layout(nodes=nodes, edges=tuple(edges), width=width - COLUMN_GAP, height=height)
