"""A workflow's steps and the durable per-step state of executions (step runs)."""

from __future__ import annotations

from typing import Any, Final

from psycopg.rows import DictRow

from turbocat_adapters.postgres.mapping import jsonb, strings
from turbocat_adapters.postgres.session import Session
from turbocat_adapters.sql_text import id_hex
from turbocat_core.domain.common import AgentId, ExecutionId, StepId, UserId, WorkflowId
from turbocat_core.domain.execution import StepRun, StepStatus
from turbocat_core.domain.workflow import OnError, StepType, WorkflowStep
from turbocat_core.errors import NotFound

# --- workflow steps -----------------------------------------------------------------------

INSERT_STEP: Final = """
INSERT INTO workflow_steps (
    id, workflow_id, step_key, step_name, step_type, agent_id, position, config, inputs,
    depends_on, retry_count, retry_delay_ms, timeout_seconds, on_error, created_at,
    updated_at
) VALUES (
    %(id)s, %(workflow_id)s, %(step_key)s, %(step_name)s, %(step_type)s, %(agent_id)s,
    %(position)s, %(config)s, %(inputs)s, %(depends_on)s, %(retry_count)s,
    %(retry_delay_ms)s, %(timeout_seconds)s, %(on_error)s, %(created_at)s, %(updated_at)s
)"""
UPDATE_STEP: Final = """
UPDATE workflow_steps SET
    workflow_id = %(workflow_id)s, step_key = %(step_key)s, step_name = %(step_name)s,
    step_type = %(step_type)s, agent_id = %(agent_id)s, position = %(position)s,
    config = %(config)s, inputs = %(inputs)s, depends_on = %(depends_on)s,
    retry_count = %(retry_count)s, retry_delay_ms = %(retry_delay_ms)s,
    timeout_seconds = %(timeout_seconds)s, on_error = %(on_error)s,
    created_at = %(created_at)s, updated_at = %(updated_at)s
WHERE id = %(id)s"""
DELETE_STEP: Final = "DELETE FROM workflow_steps WHERE id = %(id)s"
STEPS_OF_WORKFLOW: Final = """
SELECT * FROM workflow_steps WHERE workflow_id = %(workflow_id)s
ORDER BY position, step_key COLLATE "C" """


# The agent in a step's column, a LOOP's config or a PARALLEL branch (``agent_ids_of``).
AGENT_USED_BY_OTHERS: Final = f"""
SELECT EXISTS (
    SELECT 1 FROM workflow_steps s JOIN workflows w ON w.id = s.workflow_id
    WHERE w.deleted_at IS NULL AND w.user_id <> %(owner)s AND (
        s.agent_id = %(agent)s
        OR (s.step_type = 'LOOP' AND {id_hex("s.config->>'agentId'")} = %(hex)s)
        OR (s.step_type = 'PARALLEL' AND EXISTS (
            SELECT 1 FROM jsonb_each(CASE WHEN jsonb_typeof(s.config->'branches') = 'object'
                THEN s.config->'branches' ELSE '{{}}'::jsonb END) AS b
            WHERE {id_hex("b.value->>'agentId'")} = %(hex)s))
    )
) AS used"""


def step_params(step: WorkflowStep) -> dict[str, Any]:
    return {
        "id": step.id,
        "workflow_id": step.workflow_id,
        "step_key": step.step_key,
        "step_name": step.step_name,
        "step_type": step.step_type.value,
        "agent_id": step.agent_id,
        "position": step.position,
        "config": jsonb(step.config),
        "inputs": jsonb(step.inputs),
        "depends_on": list(step.depends_on),
        "retry_count": step.retry_count,
        "retry_delay_ms": step.retry_delay_ms,
        "timeout_seconds": step.timeout_seconds,
        "on_error": step.on_error.value,
        "created_at": step.created_at,
        "updated_at": step.updated_at,
    }


def step_from_row(row: DictRow) -> WorkflowStep:
    return WorkflowStep(
        id=row["id"],
        workflow_id=row["workflow_id"],
        step_key=row["step_key"],
        step_name=row["step_name"],
        step_type=StepType(row["step_type"]),
        agent_id=row["agent_id"],
        position=row["position"],
        config=row["config"],
        inputs=row["inputs"],
        depends_on=strings(row["depends_on"]),
        retry_count=row["retry_count"],
        retry_delay_ms=row["retry_delay_ms"],
        timeout_seconds=row["timeout_seconds"],
        on_error=OnError(row["on_error"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class PostgresStepRepository:
    """A workflow's steps; ``(workflow_id, step_key)`` is unique; ``delete`` is for good."""

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    async def add(self, step: WorkflowStep) -> None:
        await self._session.write(INSERT_STEP, step_params(step))

    async def update(self, step: WorkflowStep) -> None:
        cursor = await self._session.write(UPDATE_STEP, step_params(step))
        if cursor.rowcount == 0:
            raise NotFound("step", step.id)

    async def delete(self, step_id: StepId) -> None:
        cursor = await self._session.write(DELETE_STEP, {"id": step_id})
        if cursor.rowcount == 0:
            raise NotFound("step", step_id)

    async def for_workflow(self, workflow_id: WorkflowId) -> list[WorkflowStep]:
        rows = await self._session.all(STEPS_OF_WORKFLOW, {"workflow_id": workflow_id})
        return [step_from_row(row) for row in rows]

    async def agent_used_by_others(self, agent_id: AgentId, owner_id: UserId) -> bool:
        params = {"agent": agent_id, "hex": agent_id.hex, "owner": owner_id}
        row = await self._session.one(AGENT_USED_BY_OTHERS, params)
        return bool(row and row["used"])


# --- step runs ----------------------------------------------------------------------------

# One row per (execution, step key); saving again replaces everything but the id, the
# creation time and the insertion order (``position``, an identity column).
SAVE_STEP_RUN: Final = """
INSERT INTO step_runs (
    id, execution_id, step_key, step_id, status, attempt, output, error, started_at,
    completed_at, duration_ms, reused_from, created_at, updated_at
) VALUES (
    %(id)s, %(execution_id)s, %(step_key)s, %(step_id)s, %(status)s, %(attempt)s,
    %(output)s, %(error)s, %(started_at)s, %(completed_at)s, %(duration_ms)s,
    %(reused_from)s, %(created_at)s, %(updated_at)s
)
ON CONFLICT (execution_id, step_key) DO UPDATE SET
    step_id = EXCLUDED.step_id, status = EXCLUDED.status, attempt = EXCLUDED.attempt,
    output = EXCLUDED.output, error = EXCLUDED.error, started_at = EXCLUDED.started_at,
    completed_at = EXCLUDED.completed_at, duration_ms = EXCLUDED.duration_ms,
    reused_from = EXCLUDED.reused_from, updated_at = EXCLUDED.updated_at"""
STEP_RUNS_OF_EXECUTION: Final = (
    "SELECT * FROM step_runs WHERE execution_id = %(execution_id)s ORDER BY position"
)


def step_run_params(run: StepRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "execution_id": run.execution_id,
        "step_key": run.step_key,
        "step_id": run.step_id,
        "status": run.status.value,
        "attempt": run.attempt,
        "output": jsonb(run.output),
        "error": run.error,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "duration_ms": run.duration_ms,
        "reused_from": run.reused_from,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
    }


def step_run_from_row(row: DictRow) -> StepRun:
    return StepRun(
        id=row["id"],
        execution_id=row["execution_id"],
        step_key=row["step_key"],
        step_id=row["step_id"],
        status=StepStatus(row["status"]),
        attempt=row["attempt"],
        output=row["output"],
        error=row["error"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        duration_ms=row["duration_ms"],
        reused_from=row["reused_from"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class PostgresStepRunRepository:
    """Step runs: ``save`` is an upsert that keeps the row's first id and creation time;
    ``for_execution`` lists them in the order they were first saved."""

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    async def save(self, step_run: StepRun) -> None:
        await self._session.write(SAVE_STEP_RUN, step_run_params(step_run))

    async def for_execution(self, execution_id: ExecutionId) -> list[StepRun]:
        rows = await self._session.all(STEP_RUNS_OF_EXECUTION, {"execution_id": execution_id})
        return [step_run_from_row(row) for row in rows]
