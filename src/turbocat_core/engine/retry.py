"""Failures of one attempt: what kind they are, whether to retry, and how long to wait."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from turbocat_core.agents.failures import AgentFailure, FailureKind
from turbocat_core.domain.workflow import MAX_RETRY_DELAY_MS, WorkflowStep
from turbocat_core.errors import ExternalServiceError, TurbocatError

DEFAULT_RETRY_ON: Final = ("any",)


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt, as the engine records it."""

    message: str
    kind: FailureKind
    retryable: bool


def classify(error: BaseException, timeout_seconds: float | None = None) -> Failure:
    """Turn what an attempt raised into a ``Failure`` (messages are safe to store and show)."""
    if isinstance(error, AgentFailure):
        return Failure(error.message, error.kind, error.retryable)
    if isinstance(error, TimeoutError):
        limit = f" of {timeout_seconds:g} s" if timeout_seconds is not None else ""
        return Failure(f"attempt exceeded its timeout{limit}", FailureKind.TIMEOUT, True)
    if isinstance(error, ExternalServiceError):
        return Failure(error.message, FailureKind.NETWORK, error.retryable)
    if isinstance(error, TurbocatError):
        return Failure(error.message, FailureKind.ERROR, False)
    # A bug in an executor or in user code: say what it was, let retries have a go.
    return Failure(f"{type(error).__name__}: {error}", FailureKind.ERROR, True)


def retry_on(step: WorkflowStep) -> Sequence[str]:
    value = step.config.get("retryOn")
    return value if isinstance(value, list) and value else DEFAULT_RETRY_ON


def should_retry(step: WorkflowStep, failure: Failure, attempt: int) -> bool:
    """Retry when attempts remain, the failure is retryable and ``retryOn`` names its kind."""
    if not failure.retryable or attempt > step.max_retries:
        return False
    kinds = retry_on(step)
    return "any" in kinds or failure.kind.value in kinds


def backoff_ms(step: WorkflowStep, attempt: int, unit_random: float, jitter: float) -> float:
    """``retryDelayMs * 2^(attempt-1)``, spread by ±``jitter`` and capped at five minutes."""
    nominal = min(MAX_RETRY_DELAY_MS, step.retry_delay_ms * 2 ** (attempt - 1))
    spread = 1 - jitter + 2 * jitter * unit_random
    return float(min(MAX_RETRY_DELAY_MS, nominal * spread))
