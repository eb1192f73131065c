"""Workflow documents the embedding tests run: steps that call registered functions."""

from __future__ import annotations

from typing import Any


def function_step(key: str, function: str, **step: Any) -> dict[str, Any]:
    """A step calling ``function`` (the workflow file's ``"function": name`` shorthand)."""
    return {"stepKey": key, "function": function, **step}


def workflow(name: str, *steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A workflow file of these steps."""
    return {"name": name, "steps": list(steps), **extra}
