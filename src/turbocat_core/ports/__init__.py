"""The ports: what the core needs from the outside world, as small ``typing.Protocol``s.

Adapters implement them without inheriting. Every I/O port is async. Storage ports come
with one contract suite in ``tests/contracts/`` that every adapter passes. One module per
subsystem; this package re-exports every name, so ``from turbocat_core.ports import
Clock`` and ``ports.UnitOfWork`` keep working.
"""

from __future__ import annotations

from turbocat_core.ports.agents import (
    CodeRequest,
    CodeResult,
    CodeRunner,
    HttpClient,
    HttpRequest,
    HttpResponse,
    LlmClient,
    LlmRequest,
    LlmResponse,
)
from turbocat_core.ports.api_usage import (
    ApiUsage,
)
from turbocat_core.ports.clock import (
    Clock,
    Timer,
)
from turbocat_core.ports.coordination import (
    CancellationSignal,
    Claims,
    JobQueue,
)
from turbocat_core.ports.mail import (
    Email,
    Mailer,
)
from turbocat_core.ports.randomness import (
    IdGenerator,
    RandomSource,
)
from turbocat_core.ports.run_store import (
    AgentRepository,
    AuditLogRepository,
    ExecutionLogRepository,
    ExecutionRepository,
    PruneCount,
    Repository,
    RunUnitOfWork,
    RunUnitOfWorkFactory,
    StepRepository,
    StepRunRepository,
    UserRepository,
    WorkflowRepository,
)
from turbocat_core.ports.security import (
    OneTimeTokens,
    PasswordHasher,
    RateDecision,
    RateLimiter,
    ReplayGuard,
    SecretBox,
    SessionStore,
    TokenIssuer,
)
from turbocat_core.ports.storage import (
    AnalyticsRepository,
    ApiKeyRepository,
    DeploymentRepository,
    TemplateRepository,
    UnitOfWork,
    UnitOfWorkFactory,
)

__all__ = [
    "AgentRepository",
    "AnalyticsRepository",
    "ApiKeyRepository",
    "ApiUsage",
    "AuditLogRepository",
    "CancellationSignal",
    "Claims",
    "Clock",
    "CodeRequest",
    "CodeResult",
    "CodeRunner",
    "DeploymentRepository",
    "Email",
    "ExecutionLogRepository",
    "ExecutionRepository",
    "HttpClient",
    "HttpRequest",
    "HttpResponse",
    "IdGenerator",
    "JobQueue",
    "LlmClient",
    "LlmRequest",
    "LlmResponse",
    "Mailer",
    "OneTimeTokens",
    "PasswordHasher",
    "PruneCount",
    "RandomSource",
    "RateDecision",
    "RateLimiter",
    "ReplayGuard",
    "Repository",
    "RunUnitOfWork",
    "RunUnitOfWorkFactory",
    "SecretBox",
    "SessionStore",
    "StepRepository",
    "StepRunRepository",
    "TemplateRepository",
    "Timer",
    "TokenIssuer",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRepository",
    "WorkflowRepository",
]
