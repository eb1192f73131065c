"""Turbocat's pure core: domain, ports, engine and use cases, standard library only.

What a program embedding Turbocat (``turbocat_adapters.Turbocat``) works with is importable
from here: the results (``Execution``, its ``ExecutionStatus``, ``StepRun`` and
``StepStatus``, ``ExecutionLog`` and ``LogLevel``), the context a step's function receives
(``FunctionContext``), and the errors (``TurbocatError`` and its family; a function raises
``NonRetryableError`` to fail its step without retries). Internal modules may move; these
names may not.
"""

from turbocat_core.agents.function_agent import FunctionContext
from turbocat_core.domain.execution import (
    Execution,
    ExecutionLog,
    ExecutionStatus,
    LogLevel,
    StepRun,
    StepStatus,
)
from turbocat_core.errors import (
    AlreadyExists,
    Conflict,
    CycleDetected,
    ExternalServiceError,
    FieldError,
    InvalidState,
    NonRetryableError,
    NotConfigured,
    NotFound,
    PermissionDenied,
    RateLimited,
    TurbocatError,
    Unauthenticated,
    ValidationFailed,
)

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists",
    "Conflict",
    "CycleDetected",
    "Execution",
    "ExecutionLog",
    "ExecutionStatus",
    "ExternalServiceError",
    "FieldError",
    "FunctionContext",
    "InvalidState",
    "LogLevel",
    "NonRetryableError",
    "NotConfigured",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "StepRun",
    "StepStatus",
    "TurbocatError",
    "Unauthenticated",
    "ValidationFailed",
    "__version__",
]
