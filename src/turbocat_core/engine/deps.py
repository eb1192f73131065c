"""What the engine's parts are given: its ports and settings, never the ``Engine`` itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from turbocat_core.agents.contract import AgentExecutors, RunContext
from turbocat_core.domain.execution import ExecutionLog
from turbocat_core.engine.refs import DEFAULT_MAX_RESOLVED_BYTES
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.coordination import CancellationSignal
from turbocat_core.ports.randomness import IdGenerator, RandomSource
from turbocat_core.ports.run_store import RunUnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    max_step_output_bytes: int = 1024 * 1024
    max_resolved_input_bytes: int = DEFAULT_MAX_RESOLVED_BYTES
    """What a step's references may resolve to at once (its inputs, the called agents'
    configs, LOOP items, conditions...), as compact JSON; counted while resolving."""
    retry_jitter: float = 0.2
    """Retry waits are spread uniformly over ±20% of the nominal backoff."""
    park_waits_over: float | None = None
    """Under a queue: when every running step is a WAIT with more than this many seconds
    to go (and nothing else can start), the run stops holding its worker and is queued
    again for when the first wait ends. ``None``: waits are slept through."""
    max_recoveries: int = 2
    """A run whose processing failed this many times (its process died, or it failed for a
    reason that is not a step's own) ends FAILED instead of being resumed again."""


ContextFactory = Callable[..., RunContext]
"""Builds the ``RunContext`` an agent runs with, from the attempt's fields (``RunContext``
minus what the engine adds: its ``ChildRuns``, for the WORKFLOW agent)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EnginePorts:
    """The ports of an engine that every part of a run uses."""

    uow: RunUnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    random: RandomSource
    executors: AgentExecutors
    cancellation: CancellationSignal


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineDeps(EnginePorts):
    """The ports and settings the journal, the steps and the loop use, made once per
    processing by ``Engine.run_once``."""

    settings: EngineSettings
    context: ContextFactory
    """Where an attempt's agent call gets its ``RunContext`` (``steps.StepWork._execute``)."""
    on_log: Callable[[ExecutionLog], None] | None = None
    """Told about every log line once it is committed."""
