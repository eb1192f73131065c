"""Explicit mappers of what running needs: steps, executions, step runs and log lines."""

from __future__ import annotations

from typing import Final

from turbocat_adapters.snapshots import steps_from_json, steps_to_json
from turbocat_adapters.sqlite.codec import (
    js,
    js_or_none,
    parse_js,
    parse_js_or_none,
    parse_texts,
    parse_ts,
    parse_ts_or_none,
    parse_uid,
    parse_uid_or_none,
    texts,
    ts,
    ts_or_none,
    uid,
    uid_or_none,
)
from turbocat_adapters.sqlite.mapping import Params, Row
from turbocat_core.domain.common import (
    AgentId,
    DeploymentId,
    ExecutionId,
    LogId,
    StepId,
    UserId,
    WorkflowId,
)
from turbocat_core.domain.execution import (
    Execution,
    ExecutionLog,
    ExecutionStatus,
    LogLevel,
    StepRun,
    StepStatus,
    TriggerType,
)
from turbocat_core.domain.workflow import OnError, StepType, WorkflowStep

# --- workflow steps ----------------------------------------------------------------------

STEP_COLUMNS: Final = (
    "id",
    "created_at",
    "updated_at",
    "workflow_id",
    "step_key",
    "step_name",
    "step_type",
    "agent_id",
    "position",
    "config",
    "inputs",
    "depends_on",
    "retry_count",
    "retry_delay_ms",
    "timeout_seconds",
    "on_error",
)


def step_params(step: WorkflowStep) -> Params:
    return {
        "id": uid(step.id),
        "created_at": ts(step.created_at),
        "updated_at": ts(step.updated_at),
        "workflow_id": uid(step.workflow_id),
        "step_key": step.step_key,
        "step_name": step.step_name,
        "step_type": step.step_type,
        "agent_id": uid_or_none(step.agent_id),
        "position": step.position,
        "config": js(step.config, "config"),
        "inputs": js(step.inputs, "inputs"),
        "depends_on": texts(step.depends_on, "depends_on"),
        "retry_count": step.retry_count,
        "retry_delay_ms": step.retry_delay_ms,
        "timeout_seconds": step.timeout_seconds,
        "on_error": step.on_error,
    }


def step_from_row(row: Row) -> WorkflowStep:
    (
        id_,
        created_at,
        updated_at,
        workflow_id,
        step_key,
        step_name,
        step_type,
        agent_id,
        position,
        config,
        inputs,
        depends_on,
        retry_count,
        retry_delay_ms,
        timeout_seconds,
        on_error,
    ) = row
    agent = parse_uid_or_none(agent_id)
    return WorkflowStep(
        id=StepId(parse_uid(id_)),
        created_at=parse_ts(created_at),
        updated_at=parse_ts(updated_at),
        workflow_id=WorkflowId(parse_uid(workflow_id)),
        step_key=step_key,
        step_name=step_name,
        step_type=StepType(step_type),
        agent_id=AgentId(agent) if agent is not None else None,
        position=position,
        config=parse_js(config),
        inputs=parse_js(inputs),
        depends_on=parse_texts(depends_on),
        retry_count=retry_count,
        retry_delay_ms=retry_delay_ms,
        timeout_seconds=timeout_seconds,
        on_error=OnError(on_error),
    )


# --- executions --------------------------------------------------------------------------

EXECUTION_COLUMNS: Final = (
    "id",
    "created_at",
    "updated_at",
    "workflow_id",
    "user_id",
    "status",
    "trigger_type",
    "trigger_data",
    "input_data",
    "metadata",
    "output_data",
    "error_message",
    "started_at",
    "completed_at",
    "duration_ms",
    "steps_total",
    "steps_completed",
    "steps_failed",
    "workflow_version",
    "steps",
    "timeout_seconds",
    "max_concurrency",
    "retry_of",
    "parent_execution_id",
    "depth",
    "deployment_id",
    "recoveries",
    "processing",
    "last_failure",
)
PROCESSING_COLUMNS: Final = ("recoveries", "processing", "last_failure")
EXECUTION_HEAD_COLUMNS: Final = tuple(
    name for name in EXECUTION_COLUMNS if name != "steps" and name not in PROCESSING_COLUMNS
)
"""What ``update`` writes: everything but the pinned steps, the processing bookkeeping
(only ``begin_processing``/``end_processing`` write it) and ``log_seq`` (not a field)."""


def execution_params(execution: Execution, *, with_steps: bool = True) -> Params:
    params = {
        "id": uid(execution.id),
        "created_at": ts(execution.created_at),
        "updated_at": ts(execution.updated_at),
        "workflow_id": uid(execution.workflow_id),
        "user_id": uid(execution.user_id),
        "status": execution.status,
        "trigger_type": execution.trigger_type,
        "trigger_data": js(execution.trigger_data, "trigger_data"),
        "input_data": js(execution.input_data, "input_data"),
        "metadata": js(execution.metadata, "metadata"),
        "output_data": js_or_none(execution.output_data, "output_data"),
        "error_message": execution.error_message,
        "started_at": ts_or_none(execution.started_at),
        "completed_at": ts_or_none(execution.completed_at),
        "duration_ms": execution.duration_ms,
        "steps_total": execution.steps_total,
        "steps_completed": execution.steps_completed,
        "steps_failed": execution.steps_failed,
        "workflow_version": execution.workflow_version,
        "timeout_seconds": execution.timeout_seconds,
        "max_concurrency": execution.max_concurrency,
        "retry_of": uid_or_none(execution.retry_of),
        "parent_execution_id": uid_or_none(execution.parent_execution_id),
        "depth": execution.depth,
        "deployment_id": uid_or_none(execution.deployment_id),
        "recoveries": execution.recoveries,
        "processing": execution.processing,
        "last_failure": execution.last_failure,
    }
    if with_steps:  # a snapshot of thousands of steps is not rebuilt at each status change
        params["steps"] = js(steps_to_json(execution.steps), "steps")
    return params


def execution_from_row(row: Row) -> Execution:
    (
        id_,
        created_at,
        updated_at,
        workflow_id,
        user_id,
        status,
        trigger_type,
        trigger_data,
        input_data,
        metadata,
        output_data,
        error_message,
        started_at,
        completed_at,
        duration_ms,
        steps_total,
        steps_completed,
        steps_failed,
        workflow_version,
        steps,
        timeout_seconds,
        max_concurrency,
        retry_of,
        parent_execution_id,
        depth,
        deployment_id,
        recoveries,
        processing,
        last_failure,
    ) = row
    retried = parse_uid_or_none(retry_of)
    parent = parse_uid_or_none(parent_execution_id)
    deployment = parse_uid_or_none(deployment_id)
    return Execution(
        id=ExecutionId(parse_uid(id_)),
        created_at=parse_ts(created_at),
        updated_at=parse_ts(updated_at),
        workflow_id=WorkflowId(parse_uid(workflow_id)),
        user_id=UserId(parse_uid(user_id)),
        status=ExecutionStatus(status),
        trigger_type=TriggerType(trigger_type),
        trigger_data=parse_js(trigger_data),
        input_data=parse_js(input_data),
        metadata=parse_js(metadata),
        output_data=parse_js_or_none(output_data),
        error_message=error_message,
        started_at=parse_ts_or_none(started_at),
        completed_at=parse_ts_or_none(completed_at),
        duration_ms=duration_ms,
        steps_total=steps_total,
        steps_completed=steps_completed,
        steps_failed=steps_failed,
        workflow_version=workflow_version,
        steps=steps_from_json(parse_js(steps)),
        timeout_seconds=timeout_seconds,
        max_concurrency=max_concurrency,
        retry_of=ExecutionId(retried) if retried is not None else None,
        parent_execution_id=ExecutionId(parent) if parent is not None else None,
        depth=depth,
        deployment_id=DeploymentId(deployment) if deployment is not None else None,
        recoveries=recoveries,
        processing=processing,
        last_failure=last_failure,
    )


# --- step runs ---------------------------------------------------------------------------

STEP_RUN_COLUMNS: Final = (
    "id",
    "created_at",
    "updated_at",
    "execution_id",
    "step_key",
    "step_id",
    "status",
    "attempt",
    "output",
    "error",
    "started_at",
    "completed_at",
    "duration_ms",
    "reused_from",
)


def step_run_params(run: StepRun) -> Params:
    return {
        "id": uid(run.id),
        "created_at": ts(run.created_at),
        "updated_at": ts(run.updated_at),
        "execution_id": uid(run.execution_id),
        "step_key": run.step_key,
        "step_id": uid_or_none(run.step_id),
        "status": run.status,
        "attempt": run.attempt,
        "output": js(run.output, "output"),
        "error": run.error,
        "started_at": ts_or_none(run.started_at),
        "completed_at": ts_or_none(run.completed_at),
        "duration_ms": run.duration_ms,
        "reused_from": uid_or_none(run.reused_from),
    }


def step_run_from_row(row: Row) -> StepRun:
    (
        id_,
        created_at,
        updated_at,
        execution_id,
        step_key,
        step_id,
        status,
        attempt,
        output,
        error,
        started_at,
        completed_at,
        duration_ms,
        reused_from,
    ) = row
    step = parse_uid_or_none(step_id)
    reused = parse_uid_or_none(reused_from)
    return StepRun(
        id=parse_uid(id_),
        created_at=parse_ts(created_at),
        updated_at=parse_ts(updated_at),
        execution_id=ExecutionId(parse_uid(execution_id)),
        step_key=step_key,
        step_id=StepId(step) if step is not None else None,
        status=StepStatus(status),
        attempt=attempt,
        output=parse_js(output),
        error=error,
        started_at=parse_ts_or_none(started_at),
        completed_at=parse_ts_or_none(completed_at),
        duration_ms=duration_ms,
        reused_from=ExecutionId(reused) if reused is not None else None,
    )


# --- log lines ---------------------------------------------------------------------------

LOG_COLUMNS: Final = (
    "id",
    "created_at",
    "updated_at",
    "execution_id",
    "seq",
    "level",
    "message",
    "workflow_step_id",
    "step_key",
    "metadata",
    "step_status",
    "step_started_at",
    "step_completed_at",
    "step_duration_ms",
    "attempt",
)


def log_params(line: ExecutionLog) -> Params:
    """Without ``seq``: the store gives it when it writes the line."""
    return {
        "id": uid(line.id),
        "created_at": ts(line.created_at),
        "updated_at": ts(line.updated_at),
        "execution_id": uid(line.execution_id),
        "level": line.level,
        "message": line.message,
        "workflow_step_id": uid_or_none(line.workflow_step_id),
        "step_key": line.step_key,
        "metadata": js(line.metadata, "metadata"),
        "step_status": line.step_status,
        "step_started_at": ts_or_none(line.step_started_at),
        "step_completed_at": ts_or_none(line.step_completed_at),
        "step_duration_ms": line.step_duration_ms,
        "attempt": line.attempt,
    }


def log_from_row(row: Row) -> ExecutionLog:
    (
        id_,
        created_at,
        updated_at,
        execution_id,
        seq,
        level,
        message,
        workflow_step_id,
        step_key,
        metadata,
        step_status,
        step_started_at,
        step_completed_at,
        step_duration_ms,
        attempt,
    ) = row
    step = parse_uid_or_none(workflow_step_id)
    return ExecutionLog(
        id=LogId(parse_uid(id_)),
        created_at=parse_ts(created_at),
        updated_at=parse_ts(updated_at),
        execution_id=ExecutionId(parse_uid(execution_id)),
        seq=seq,
        level=LogLevel(level),
        message=message,
        workflow_step_id=StepId(step) if step is not None else None,
        step_key=step_key,
        metadata=parse_js(metadata),
        step_status=StepStatus(step_status) if step_status is not None else None,
        step_started_at=parse_ts_or_none(step_started_at),
        step_completed_at=parse_ts_or_none(step_completed_at),
        step_duration_ms=step_duration_ms,
        attempt=attempt,
    )
