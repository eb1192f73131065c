"""``POST /executions/{id}/retry`` and ``/approvals/{callId}``."""

# No ``from __future__ import annotations``: msgspec reads the annotations at run time.

from typing import Any

import msgspec


class RetryIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    from_start: bool = False
    """Run every step again (by default, steps that completed are reused)."""
    use_latest_version: bool = False
    """Run the workflow's current steps and settings (unchanged completed steps are still
    reused) rather than the ones the failed execution pinned."""


class ApprovalIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    approve: bool
    """Run the tool call (``true``) or send the model a rejection (``false``)."""
    comment: str | None = msgspec.field(default=None)
    """Told to the model with a rejection; kept with the decision either way."""


class ApprovalOut(msgspec.Struct, rename="camel"):
    """A decided tool call."""

    call_id: str
    tool: str
    arguments: dict[str, Any]
    turn: int
    status: str
    """``APPROVED`` or ``REJECTED``."""
    comment: str | None
    decided_by: str
    decided_at: str

    @classmethod
    def of(cls, decision: dict[str, Any]) -> "ApprovalOut":
        return msgspec.convert(decision, cls)
