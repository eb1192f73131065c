"""Tool calls waiting for a person's decision, as a RUNNING step's journaled conversation
holds them (``agents.conversation``; decided by ``usecases.approvals``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from turbocat_core.domain.common import JsonObject
from turbocat_core.domain.execution import StepRun, StepStatus

PENDING: Final = "PENDING"
APPROVED: Final = "APPROVED"
REJECTED: Final = "REJECTED"


def approvals_of(run: StepRun) -> dict[str, Any]:
    """A RUNNING step's approvals by call id (empty for any other step)."""
    if run.status is not StepStatus.RUNNING or not isinstance(run.output, dict):
        return {}
    approvals = run.output.get("approvals")
    return approvals if isinstance(approvals, dict) else {}


def pending_approvals(runs: Iterable[StepRun]) -> list[JsonObject]:
    """The calls waiting for a decision, each with its ``stepKey``."""
    found: list[JsonObject] = []
    for run in runs:
        for decision in approvals_of(run).values():
            if isinstance(decision, dict) and decision.get("status") == PENDING:
                found.append({**decision, "stepKey": run.step_key})
    return found
