"""The composition root: settings -> adapters -> engine and use cases (dependency-injector)."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from dependency_injector import containers, providers

from turbocat_adapters.code import SubprocessCodeRunner
from turbocat_adapters.crypto import SecretBox
from turbocat_adapters.functions import container_functions
from turbocat_adapters.http import GuardedNetwork, HttpxClient
from turbocat_adapters.llm import HttpLlmClient
from turbocat_adapters.mail import ConsoleMailer, NoMailer, SmtpMailer
from turbocat_adapters.memory import (
    InProcessCancellation,
    InProcessQueue,
    MemoryClaims,
    MemoryRateLimiter,
)
from turbocat_adapters.scheduler import Scheduler
from turbocat_adapters.security import BcryptHasher
from turbocat_adapters.settings import Settings
from turbocat_adapters.stores import Store, build_store
from turbocat_adapters.system import SystemClock, SystemRandom, UuidV7Generator
from turbocat_adapters.tokens import JwtTokens
from turbocat_core.agents.api_agent import DEFAULT_MAX_RESPONSE_BYTES, ApiAgent
from turbocat_core.agents.code_agent import CodeAgent
from turbocat_core.agents.contract import AgentExecutors
from turbocat_core.agents.data_agent import DataAgent
from turbocat_core.agents.function_agent import FunctionExecutor, FunctionRegistry
from turbocat_core.agents.llm_agent import LlmAgent
from turbocat_core.agents.workflow_agent import WorkflowAgent, bind_engine
from turbocat_core.domain.agent import AgentType
from turbocat_core.engine.events import LogBroadcast
from turbocat_core.engine.runner import Engine, EngineSettings, EnvProvider
from turbocat_core.errors import ValidationFailed
from turbocat_core.ports import (
    CancellationSignal,
    Claims,
    Clock,
    JobQueue,
    Mailer,
    OneTimeTokens,
    ReplayGuard,
    SessionStore,
    UnitOfWorkFactory,
)
from turbocat_core.usecases.accounts import (
    AccountPorts,
    Authenticate,
    CreateUser,
    ForgotPassword,
    Login,
    Logout,
    Refresh,
    Register,
    ResetPassword,
)
from turbocat_core.usecases.api_keys import (
    AuthenticateApiKey,
    CreateApiKey,
    ListApiKeys,
    RevokeApiKey,
)
from turbocat_core.usecases.deployments import deployment_env
from turbocat_core.usecases.executions import CancelExecution, RetryExecution, StartExecution
from turbocat_core.usecases.reseal import ResealSecrets
from turbocat_core.usecases.retention import PruneExecutions
from turbocat_core.usecases.running import RunQueued
from turbocat_core.usecases.scheduling import FireDueSchedules
from turbocat_core.usecases.seed import Seed
from turbocat_core.usecases.users import GetMe, GetUser, UpdateMe
from turbocat_core.usecases.workflow_files import ImportWorkflow, WorkflowFiles

if TYPE_CHECKING:
    from redis import Redis as SyncRedis
    from redis.asyncio import Redis

    from turbocat_core.ports import RateLimiter


PARK_WAITS_OVER = 5.0
"""In a fleet, a run whose running steps are all WAITs with more than 5 s to go leaves its
worker and is queued again for when the first one ends."""


def _engine_settings(settings: Settings) -> EngineSettings:
    return EngineSettings(
        max_step_output_bytes=settings.max_step_output_bytes,
        max_resolved_input_bytes=settings.max_resolved_input_bytes,
        park_waits_over=PARK_WAITS_OVER if settings.redis_url else None,
        max_recoveries=settings.max_run_recoveries,
    )


def _worker_id() -> str:
    """This process among the fleet's: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"


def _rq_connection(settings: Settings) -> SyncRedis | None:
    if settings.redis_url is None:
        return None
    from turbocat_adapters.rq.queue import sync_redis

    return sync_redis(settings.redis_url)


def _claims(clock: Clock, redis: Redis | None, settings: Settings) -> Claims:
    if redis is not None:
        from turbocat_adapters.redis import Keys
        from turbocat_adapters.redis.claims import RedisClaims

        return RedisClaims(redis, Keys(settings.redis_prefix))
    return MemoryClaims(clock)


def _fleet_claims(settings: Settings, claims: Claims) -> Claims | None:
    """Schedules need claims only where several processes run them."""
    return claims if settings.redis_url else None


def _cancellation(redis: Redis | None, settings: Settings) -> CancellationSignal:
    if redis is not None:
        from turbocat_adapters.redis import Keys
        from turbocat_adapters.redis.cancellation import RedisCancellation

        return RedisCancellation(redis, Keys(settings.redis_prefix))
    return InProcessCancellation()


def _run_queued(
    settings: Settings,
    engine: Engine,
    claims: Claims,
    clock: Clock,
    worker_id: str,
    rq_connection: SyncRedis | None,
) -> RunQueued:
    """The runner and its queue: RQ with a Redis URL (workers run the jobs), otherwise
    asyncio tasks of this process."""
    queue: JobQueue
    if rq_connection is not None:
        from turbocat_adapters.rq.queue import RqQueue

        queue = RqQueue(rq_connection, settings.redis_prefix, claims)
    else:
        queue = InProcessQueue(None, clock)
    runner = RunQueued(engine=engine, queue=queue, claims=claims, clock=clock, holder=worker_id)
    if isinstance(queue, InProcessQueue):
        queue.runner = runner
    return runner


def _store(settings: Settings) -> Store:
    return build_store(settings.database_url, settings.data_dir)


def _mailer(settings: Settings) -> Mailer:
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url, settings.mail_from)
    return NoMailer() if settings.production else ConsoleMailer()


def _jwt(settings: Settings, clock: Clock) -> JwtTokens:
    if settings.jwt_secret is None:
        raise RuntimeError("no JWT secret: build the settings with secrets_file.with_secrets()")
    return JwtTokens(settings.jwt_secret, clock)


def _redis(settings: Settings) -> Redis | None:
    """The fleet mode's client (none without a Redis URL); it connects when first used."""
    if settings.redis_url is None:
        return None
    try:
        from turbocat_adapters.redis import redis_client
        from turbocat_adapters.rq import queue as _rq  # noqa: F401 (RQ comes with the fleet)
    except ImportError:
        raise ValidationFailed.field(
            "TURBOCAT_REDIS_URL", "the fleet needs its drivers: pip install 'turbocat[redis]'"
        ) from None
    return redis_client(settings.redis_url)


async def close_redis(container: Container) -> None:
    """Close the container's Redis client, if it has one (whoever opens the store calls this
    when closing it, on the same event loop)."""
    client = container.redis()
    if client is not None:
        await client.aclose()


def _sessions(store: Store, clock: Clock, redis: Redis | None, settings: Settings) -> SessionStore:
    if redis is not None:
        from turbocat_adapters.redis import Keys, RedisSessionStore

        return RedisSessionStore(redis, Keys(settings.redis_prefix), clock)
    return store.session_store(clock)


def _reset_tokens(
    store: Store, clock: Clock, redis: Redis | None, settings: Settings
) -> OneTimeTokens:
    if redis is not None:
        from turbocat_adapters.redis import Keys, RedisOneTimeTokens

        return RedisOneTimeTokens(redis, Keys(settings.redis_prefix), clock)
    return store.one_time_tokens(clock)


def _replay_guard(
    store: Store, clock: Clock, redis: Redis | None, settings: Settings
) -> ReplayGuard:
    """Accepted webhooks: in Redis where there is one, so every process agrees; otherwise
    in the store (its ``replay_keys``)."""
    if redis is not None:
        from turbocat_adapters.redis import Keys, RedisReplayGuard

        return RedisReplayGuard(redis, Keys(settings.redis_prefix), clock)
    return store.replay_guard(clock)


def _limiter(clock: Clock, redis: Redis | None, settings: Settings) -> RateLimiter:
    """Shared by every process on one Redis; otherwise this process's own (memory)."""
    if redis is not None:
        from turbocat_adapters.redis import Keys, RedisRateLimiter

        return RedisRateLimiter(redis, Keys(settings.redis_prefix), clock)
    return MemoryRateLimiter(clock)


def _secret_box(settings: Settings) -> SecretBox:
    """The current key seals; it and the previous keys open (``from_settings`` raises a clear
    error when no key is configured: build the settings with ``with_secrets()``)."""
    return SecretBox.from_settings(settings.encryption_key, settings.previous_encryption_keys)


def _env_for(settings: Settings, uow: UnitOfWorkFactory) -> EnvProvider | None:
    """Deployments' variables as ``{{env.NAME}}`` (none where no key is configured: `run`)."""
    if settings.encryption_key is None:
        return None
    return deployment_env(uow=uow, secrets=_secret_box(settings))


def _network(settings: Settings) -> GuardedNetwork:
    """The SSRF guard every outbound request made for a user goes through (API and LLM
    agents alike), built once from the settings."""
    return GuardedNetwork.build(
        allow_private=settings.http_allow_private, allowed_hosts=settings.http_allowed_hosts
    )


def _llm_agent(settings: Settings, network: GuardedNetwork) -> LlmAgent:
    """Providers' endpoints from the settings (trusted: the operator set them; a config's
    ``baseUrl`` goes through the guard); the server's own keys (``OPENAI_API_KEY``,
    ``ANTHROPIC_API_KEY``) from the process environment, for runs that bring none."""
    client = HttpLlmClient(
        openai_base_url=settings.openai_base_url,
        anthropic_base_url=settings.anthropic_base_url,
        network=network,
        timeout=float(settings.llm_timeout_seconds),
    )
    return LlmAgent(client, server_env=os.environ)


def _api_agent(settings: Settings, network: GuardedNetwork) -> ApiAgent:
    """Outbound HTTP behind the SSRF guard. Bodies may be larger than a step output (JSON is
    stored compact), but not unboundedly."""
    cap = max(DEFAULT_MAX_RESPONSE_BYTES, settings.max_step_output_bytes)
    return ApiAgent(HttpxClient(network=network), SystemClock(), max_response_bytes=cap)


def _executors(settings: Settings, functions: FunctionRegistry, worker_id: str) -> AgentExecutors:
    """Every agent type's executor; FUNCTION steps run the Python functions registered in
    ``functions`` (empty unless the process registers some)."""
    network = _network(settings)
    return AgentExecutors(
        {
            AgentType.DATA: DataAgent(max_resolved_bytes=settings.max_resolved_input_bytes),
            AgentType.API: _api_agent(settings, network),
            AgentType.LLM: _llm_agent(settings, network),
            AgentType.WORKFLOW: WorkflowAgent(),
            AgentType.CODE: CodeAgent(SubprocessCodeRunner(sandbox=settings.code_sandbox)),
            AgentType.FUNCTION: FunctionExecutor(functions, where=f"this process ({worker_id})"),
        }
    )


def _engine(**parts: Any) -> Engine:
    """The engine, with the WORKFLOW agent bound to it (it runs child executions with it)."""
    return bind_engine(Engine(**parts))


class Container(containers.DeclarativeContainer):
    """One per process. ``Container(settings=providers.Object(s))`` to inject settings."""

    settings = providers.Singleton(Settings.load)
    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidV7Generator)
    random = providers.Singleton(SystemRandom)

    store = providers.Singleton(_store, settings)
    """Not opened: whoever uses the container opens and closes it (``Store.open``)."""
    uow = store.provided.unit_of_work
    hasher = providers.Singleton(
        BcryptHasher, rounds=providers.Callable(lambda s: s.bcrypt_rounds, settings)
    )

    redis = providers.Singleton(_redis, settings)
    """``None`` without ``TURBOCAT_REDIS_URL``; whoever opens the store closes it too
    (``close_redis``). With it, sessions, reset tokens, accepted webhooks, limits, claims,
    cancellation requests and the RQ queue live in Redis."""
    rq_connection = providers.Singleton(_rq_connection, settings)
    worker_id = providers.Singleton(_worker_id)
    claims = providers.Singleton(_claims, clock, redis, settings)
    cancellation = providers.Singleton(_cancellation, redis, settings)
    functions = providers.Singleton(
        container_functions, providers.Callable(lambda s: s.functions, settings)
    )
    """The Python functions FUNCTION steps may name: this container's own (the facade's
    ``tc.function``) over the process's (``@function``), once ``TURBOCAT_FUNCTIONS``'
    modules are imported (``ValidationFailed`` naming one that cannot be)."""
    executors = providers.Singleton(_executors, settings, functions, worker_id)
    logs = providers.Singleton(LogBroadcast)
    engine = providers.Singleton(
        _engine,
        uow=uow,
        clock=clock,
        ids=ids,
        random=random,
        executors=executors,
        cancellation=cancellation,
        settings=providers.Callable(_engine_settings, settings),
        env_for=providers.Callable(_env_for, settings, uow),
        on_log=logs,
        claims=claims,
    )
    run_queued = providers.Singleton(
        _run_queued, settings, engine, claims, clock, worker_id, rq_connection
    )
    """What the queue runs for each job; ``queue`` is the JobQueue it hands follow-ups to."""
    queue = run_queued.provided.queue

    workflow_files = providers.Singleton(WorkflowFiles, clock=clock, ids=ids, executors=executors)
    import_workflow = providers.Factory(ImportWorkflow, uow=uow, files=workflow_files)
    start_execution = providers.Factory(StartExecution, uow=uow, clock=clock, ids=ids, queue=queue)
    cancel_execution = providers.Factory(
        CancelExecution, uow=uow, clock=clock, ids=ids, cancellation=cancellation, queue=queue
    )
    retry_execution = providers.Factory(RetryExecution, uow=uow, clock=clock, ids=ids, queue=queue)
    seed = providers.Factory(
        Seed, uow=uow, clock=clock, ids=ids, random=random, hasher=hasher, files=workflow_files
    )

    # Accounts
    tokens = providers.Singleton(_jwt, settings, clock)
    sessions = providers.Singleton(_sessions, store, clock, redis, settings)
    reset_tokens = providers.Singleton(_reset_tokens, store, clock, redis, settings)
    limiter = providers.Singleton(_limiter, clock, redis, settings)
    mailer = providers.Singleton(_mailer, settings)
    account_ports = providers.Singleton(
        AccountPorts,
        uow=uow,
        clock=clock,
        ids=ids,
        random=random,
        hasher=hasher,
        tokens=tokens,
        sessions=sessions,
        reset_tokens=reset_tokens,
        limiter=limiter,
        mailer=mailer,
        access_ttl=providers.Callable(lambda s: s.access_token_ttl, settings),
        refresh_ttl=providers.Callable(lambda s: s.refresh_token_ttl, settings),
        public_url=providers.Callable(lambda s: s.public_url, settings),
    )
    register = providers.Singleton(Register, account_ports)
    login = providers.Singleton(Login, account_ports)
    refresh = providers.Singleton(Refresh, account_ports)
    logout = providers.Singleton(Logout, account_ports)
    forgot_password = providers.Singleton(ForgotPassword, account_ports)
    reset_password = providers.Singleton(ResetPassword, account_ports)
    authenticate = providers.Singleton(Authenticate, account_ports)
    authenticate_api_key = providers.Singleton(AuthenticateApiKey, account_ports)
    create_user = providers.Singleton(CreateUser, account_ports)
    get_me = providers.Singleton(GetMe, account_ports)
    get_user = providers.Singleton(GetUser, account_ports)
    update_me = providers.Singleton(UpdateMe, account_ports)
    create_api_key = providers.Singleton(CreateApiKey, account_ports)
    list_api_keys = providers.Singleton(ListApiKeys, account_ports)
    revoke_api_key = providers.Singleton(RevokeApiKey, account_ports)

    # Deployments
    secret_box = providers.Singleton(_secret_box, settings)
    replay_guard = providers.Singleton(_replay_guard, store, clock, redis, settings)
    reseal_secrets = providers.Factory(ResealSecrets, uow=uow, secrets=secret_box)
    prune_executions = providers.Factory(PruneExecutions, uow=uow, clock=clock)
    fire_due_schedules = providers.Factory(
        FireDueSchedules,
        uow=uow,
        clock=clock,
        ids=ids,
        start=start_execution,
        claims=providers.Callable(_fleet_claims, settings, claims),
        holder=worker_id,
    )
    scheduler = providers.Singleton(Scheduler, fire=fire_due_schedules, clock=clock)
