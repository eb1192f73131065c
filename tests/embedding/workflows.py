"""Workflow documents the embedding tests run: steps that call registered functions."""

from __future__ import annotations

from typing import Any


def function_step(key: str, function: str, **step: Any) -> dict[str, Any]:
    """A step calling ``function`` (for now an agent of type FUNCTION of the same name)."""
    return {"stepKey": key, "agent": function, **step}


def workflow(name: str, *steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A workflow file whose steps call functions (one FUNCTION agent per function named)."""
    agents = {
        step["agent"]: {"type": "FUNCTION", "config": {"function": step["agent"]}} for step in steps
    }
    return {"name": name, "agents": agents, "steps": list(steps), **extra}
