"""Agents and workflows: rows, version trees and run counters."""

from __future__ import annotations

from datetime import datetime
from typing import Final, TypeVar
from uuid import UUID

from turbocat_adapters.sql.listing import Listing
from turbocat_adapters.sql.rows import Rows
from turbocat_adapters.sql.schema import AGENTS, WORKFLOWS
from turbocat_core.domain.agent import AGENT_QUERY, Agent
from turbocat_core.domain.common import AgentId, WorkflowId
from turbocat_core.domain.workflow import WORKFLOW_QUERY, Workflow

E = TypeVar("E")
K = TypeVar("K", bound=UUID)
VERSIONS: Final = "(id = :root OR parent_id = :root) AND deleted_at IS NULL"
# Counters in one statement each: every right-hand side reads the row as it was before the
# update, so concurrent transactions all count (the running mean is ``agent.add_runs``).
RECORD_AGENT_RUNS: Final = """
UPDATE agents SET
    avg_execution_time_ms = CASE WHEN total_executions + :runs = 0 THEN 0.0
        ELSE (avg_execution_time_ms * total_executions + :total_ms) / (total_executions + :runs)
    END,
    total_executions = total_executions + :runs,
    successful_executions = successful_executions + :succeeded,
    failed_executions = failed_executions + :failed,
    updated_at = :now
WHERE id = :id AND deleted_at IS NULL"""
RECORD_WORKFLOW_RUN: Final = """
UPDATE workflows SET
    avg_execution_time_ms =
        (avg_execution_time_ms * total_executions + :duration_ms) / (total_executions + 1),
    total_executions = total_executions + 1,
    successful_executions = successful_executions + :succeeded,
    failed_executions = failed_executions + :failed,
    last_execution_at = :now,
    updated_at = :now
WHERE id = :id AND deleted_at IS NULL"""


class _Versioned(Rows[E, K]):
    """An aggregate whose versions hang from a root (``parent_id``)."""

    __slots__ = ()

    async def versions(self, root_id: K) -> list[E]:
        sql = self.table.select(VERSIONS) + " ORDER BY version DESC, id ASC"
        return await self._all(sql, self._key(root_id, "root"))


class AgentRepository(_Versioned[Agent, AgentId]):
    __slots__ = ()
    listing = Listing(AGENTS, AGENT_QUERY, public=True)

    async def record_runs(
        self, agent_id: AgentId, *, succeeded: int, failed: int, total_ms: float, now: datetime
    ) -> None:
        """One atomic ``UPDATE`` (no lost updates); nothing for no runs or a missing agent."""
        self._conn.require()
        if not succeeded and not failed:
            return
        params = self._key(agent_id) | {
            "runs": succeeded + failed,
            "succeeded": succeeded,
            "failed": failed,
            "total_ms": float(total_ms),
            "now": self._conn.dialect.bind("time", now),
        }
        await self._conn.change(RECORD_AGENT_RUNS, params)


class WorkflowRepository(_Versioned[Workflow, WorkflowId]):
    __slots__ = ()
    listing = Listing(WORKFLOWS, WORKFLOW_QUERY, public=True)

    async def record_run(
        self, workflow_id: WorkflowId, *, succeeded: bool, duration_ms: float, now: datetime
    ) -> None:
        """One atomic ``UPDATE``; nothing for a missing workflow."""
        params = self._key(workflow_id) | {
            "succeeded": int(succeeded),
            "failed": int(not succeeded),
            "duration_ms": float(duration_ms),
            "now": self._conn.dialect.bind("time", now),
        }
        await self._conn.change(RECORD_WORKFLOW_RUN, params)
