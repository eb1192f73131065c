"""``POST /executions/{id}/retry``."""

# No ``from __future__ import annotations``: msgspec reads the annotations at run time.

import msgspec


class RetryIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    from_start: bool = False
    """Run every step again (by default, steps that completed are reused)."""
    use_latest_version: bool = False
    """Run the workflow's current steps and settings (unchanged completed steps are still
    reused) rather than the ones the failed execution pinned."""
