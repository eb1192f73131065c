"""The step graph: effective dependencies, one cycle path, and a deterministic order."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from turbocat_core.domain.workflow import StepType, WorkflowStep
from turbocat_core.errors import CycleDetected


def branch_keys(step: WorkflowStep) -> tuple[list[str], list[str]]:
    """A CONDITION's ``onTrue`` and ``onFalse`` lists (empty for other steps or bad shapes)."""
    if step.step_type is not StepType.CONDITION:
        return [], []
    sides = []
    for name in ("onTrue", "onFalse"):
        value = step.config.get(name, [])
        sides.append([k for k in value if isinstance(k, str)] if isinstance(value, list) else [])
    return sides[0], sides[1]


def dependencies(steps: Sequence[WorkflowStep]) -> dict[str, tuple[str, ...]]:
    """Each step's dependencies: its ``dependsOn`` plus, for a step named in a CONDITION
    branch, that CONDITION (a branch step cannot start before its condition is decided).

    Names that match no step are dropped here; validation reports them.
    """
    keys = {step.step_key for step in steps}
    deps: dict[str, dict[str, None]] = {step.step_key: {} for step in steps}
    for step in steps:
        for dep in step.depends_on:
            if dep in keys:
                deps[step.step_key].setdefault(dep, None)
        for branch in branch_keys(step):
            for key in branch:
                if key in keys and key != step.step_key:
                    deps[key].setdefault(step.step_key, None)
    return {key: tuple(found) for key, found in deps.items()}


def _tie_order(steps: Iterable[WorkflowStep]) -> dict[str, tuple[int, str]]:
    return {step.step_key: (step.position, step.step_key) for step in steps}


def find_cycle(deps: Mapping[str, Sequence[str]], order: Sequence[str]) -> list[str] | None:
    """One cycle, in the direction work flows (``a -> b``: b depends on a), first node repeated.

    Depth-first from each node in ``order``, so the same graph always reports the same cycle.
    """
    dependents: dict[str, list[str]] = {key: [] for key in deps}
    for key in order:
        for dep in deps[key]:
            dependents[dep].append(key)
    state: dict[str, int] = {}  # 1: on the current path, 2: fully explored
    for start in order:
        if start in state:
            continue
        path: list[str] = [start]
        state[start] = 1
        stack = [iter(dependents[start])]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
                continue
            seen = state.get(nxt)
            if seen == 1:
                return [*path[path.index(nxt) :], nxt]
            if seen is None:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(dependents[nxt]))
    return None


@dataclass(frozen=True)
class Graph:
    """A validated DAG: ``order`` is Kahn's order with ties by (position, stepKey)."""

    order: tuple[str, ...]
    deps: Mapping[str, tuple[str, ...]]
    dependents: Mapping[str, tuple[str, ...]]

    _masks: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    _bits: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def is_ancestor(self, ancestor: str, key: str) -> bool:
        """Whether ``ancestor`` must finish before ``key`` can start (transitively)."""
        if not self._masks:
            # One bit per step, in order; a step's mask is its dependencies' masks and bits.
            # Built once, O(edges * steps / 64): cheap even for long chains.
            self._bits.update((k, 1 << i) for i, k in enumerate(self.order))
            for k in self.order:
                mask = 0
                for dep in self.deps[k]:
                    mask |= self._masks[dep] | self._bits[dep]
                self._masks[k] = mask
        return bool(self._masks[key] & self._bits[ancestor])


def build_graph(steps: Sequence[WorkflowStep]) -> Graph:
    """Order the steps; ``CycleDetected`` (with one cycle path) when they cannot be ordered.

    Assumes unique step keys (validation checks them first).
    """
    deps = dependencies(steps)
    ties = _tie_order(steps)
    dependents: dict[str, list[str]] = {key: [] for key in deps}
    waiting = {key: len(found) for key, found in deps.items()}
    for key, found in deps.items():
        for dep in found:
            dependents[dep].append(key)
    ready = [ties[key] for key, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, key = heapq.heappop(ready)
        order.append(key)
        for dependent in dependents[key]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(ready, ties[dependent])
    if len(order) < len(deps):
        by_ties = sorted(deps, key=ties.__getitem__)
        cycle = find_cycle(deps, by_ties)
        assert cycle is not None  # Kahn stalls only on a cycle
        raise CycleDetected(cycle)
    index = {key: i for i, key in enumerate(order)}
    return Graph(
        order=tuple(order),
        deps=deps,
        dependents={k: tuple(sorted(v, key=index.__getitem__)) for k, v in dependents.items()},
    )
