"""The composition root: settings -> adapters -> engine and use cases (dependency-injector)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import uuid4

from dependency_injector import containers, providers

from turbocat_adapters.code import SubprocessCodeRunner
from turbocat_adapters.crypto import SecretBox
from turbocat_adapters.database_url import SQLITE_FILE, sqlite_path
from turbocat_adapters.functions import container_functions
from turbocat_adapters.http import GuardedNetwork, HttpxClient
from turbocat_adapters.llm import HttpLlmClient
from turbocat_adapters.log_context import running
from turbocat_adapters.mail import ConsoleMailer, NoMailer, SmtpMailer
from turbocat_adapters.metrics.access import MetricsAccess
from turbocat_adapters.metrics.prometheus import HttpMetrics, PrometheusObserver
from turbocat_adapters.metrics.scrape import DeploymentCollector
from turbocat_adapters.observers import observing
from turbocat_adapters.rq.reaper import Reaper
from turbocat_adapters.scheduler import Scheduler
from turbocat_adapters.security import BcryptHasher
from turbocat_adapters.settings import Settings
from turbocat_adapters.shared import SharedParts, fleet_parts, local_parts
from turbocat_adapters.store_contract import Store
from turbocat_adapters.system import SystemClock, SystemRandom, UuidV7Generator
from turbocat_adapters.tokens import JwtTokens
from turbocat_adapters.tracing import tracing_from_environment
from turbocat_core.agents.api_agent import DEFAULT_MAX_RESPONSE_BYTES, ApiAgent
from turbocat_core.agents.code_agent import CodeAgent
from turbocat_core.agents.contract import AgentExecutors
from turbocat_core.agents.data_agent import DataAgent
from turbocat_core.agents.function_agent import FunctionExecutor, FunctionRegistry
from turbocat_core.agents.llm_agent import LlmAgent
from turbocat_core.agents.workflow_agent import WorkflowAgent
from turbocat_core.domain.agent import AgentType
from turbocat_core.engine.events import LogBroadcast
from turbocat_core.engine.observer import RunObserver
from turbocat_core.engine.runner import Engine, EngineSettings, EnvProvider
from turbocat_core.errors import ValidationFailed
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.mail import Mailer
from turbocat_core.ports.storage import UnitOfWorkFactory
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
from turbocat_core.usecases.agents import (
    AgentVersions,
    CreateAgent,
    DeleteAgent,
    DuplicateAgent,
    GetAgent,
    ListAgents,
    UpdateAgent,
)
from turbocat_core.usecases.analytics import (
    GetAgentMetrics,
    GetApiTraffic,
    GetOverview,
    GetWorkflowMetrics,
    ListAuditLogs,
)
from turbocat_core.usecases.api_keys import (
    AuthenticateApiKey,
    CreateApiKey,
    ListApiKeys,
    RevokeApiKey,
)
from turbocat_core.usecases.deployment_lifecycle import (
    ListDeploymentEvents,
    StartDeployment,
    StopDeployment,
)
from turbocat_core.usecases.deployments import (
    CreateDeployment,
    DeleteDeployment,
    GetDeployment,
    ListDeployments,
    UpdateDeployment,
    deployment_env,
)
from turbocat_core.usecases.executions import (
    CancelExecution,
    GetExecution,
    ListChildExecutions,
    ListExecutionLogs,
    ListWorkflowExecutions,
    RetryExecution,
    StartExecution,
    WatchExecution,
)
from turbocat_core.usecases.recovery import ResumeInterrupted
from turbocat_core.usecases.reseal import ResealSecrets
from turbocat_core.usecases.retention import PruneExecutions
from turbocat_core.usecases.running import RunQueued
from turbocat_core.usecases.scheduling import FireDueSchedules
from turbocat_core.usecases.seed import Seed
from turbocat_core.usecases.templates import (
    GetTemplate,
    InstantiateTemplate,
    ListTemplates,
    TemplateCategories,
)
from turbocat_core.usecases.users import GetMe, GetUser, UpdateMe
from turbocat_core.usecases.webhooks import ReceiveWebhook
from turbocat_core.usecases.workflow_files import ImportWorkflow, WorkflowFiles
from turbocat_core.usecases.workflows import (
    CreateWorkflow,
    DeleteWorkflow,
    ExportWorkflow,
    GetWorkflow,
    ListWorkflows,
    UpdateWorkflow,
)

if TYPE_CHECKING:
    from turbocat_adapters.memory.tasks import Runner
    from turbocat_adapters.tracing.spans import Tracing
    from turbocat_core.domain.common import ExecutionId


def _engine_settings(settings: Settings, shared: SharedParts) -> EngineSettings:
    return EngineSettings(
        max_step_output_bytes=settings.max_step_output_bytes,
        max_resolved_input_bytes=settings.max_resolved_input_bytes,
        park_waits_over=shared.park_waits_over,
        max_recoveries=settings.max_run_recoveries,
    )


def _mode(settings: Settings) -> str:
    """``"fleet"`` with a Redis URL (servers and workers share Redis and RQ), else ``"local"``."""
    return "fleet" if settings.redis_url else "local"


def _runs_later(container: Container) -> Runner:
    """The in-process queue's runner: ``run_queued``, looked up when a job runs (it hands
    follow-ups to that queue, so it is built after it)."""

    async def run(execution_id: ExecutionId) -> None:
        with running(execution_id):  # its log lines name it
            await container.run_queued()(execution_id)

    return run


def _worker_id() -> str:
    """This process among the fleet's: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"


def _observer(settings: Settings, tracing: Tracing | None) -> RunObserver:
    """What the engine tells about its runs: Prometheus metrics unless they are turned off,
    spans when tracing is on."""
    observers: list[RunObserver] = [] if tracing is None else [tracing.observer]
    if settings.metrics:
        observers.append(PrometheusObserver())
    return observing(observers)


def _http_metrics(settings: Settings) -> HttpMetrics | None:
    return HttpMetrics() if settings.metrics else None


def _store(settings: Settings) -> Store:
    return build_store(settings.database_url, settings.data_dir)


def build_store(database_url: str | None, data_dir: Path) -> Store:
    """The store ``TURBOCAT_DATABASE_URL`` names (not opened yet).

    No URL: the embedded SQLite file ``<data_dir>/turbocat.db``. ``memory://``: in this
    process only. ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (the
    rule SQLAlchemy, DBOS and others follow: three slashes, then the path), or the short
    ``sqlite:relative/path.db`` and ``sqlite:/absolute/path.db``: that file.
    ``postgresql://…`` (or ``postgres://…``): PostgreSQL, which needs ``turbocat[postgres]``.
    Anything else is a ``ValidationFailed`` naming the variable.
    """
    if database_url is None:
        return _sqlite(data_dir / SQLITE_FILE)
    url = database_url.strip()
    if url == "memory://":
        from turbocat_adapters.memory import MemoryStore

        return MemoryStore()
    if url.startswith("sqlite:"):
        return _sqlite(sqlite_path(url))
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from turbocat_adapters.postgres import PostgresStore
        except ImportError:
            raise ValidationFailed.field(
                "TURBOCAT_DATABASE_URL",
                "PostgreSQL needs the driver: pip install 'turbocat[postgres]'",
            ) from None
        return PostgresStore(url)
    raise ValidationFailed.field(
        "TURBOCAT_DATABASE_URL",
        "must be postgresql://…, sqlite:///path/to/file.db or memory://",
    )


def _sqlite(path: Path) -> Store:
    from turbocat_adapters.sqlite import SqliteStore

    return SqliteStore(path)


def _mailer(settings: Settings) -> Mailer:
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url, settings.mail_from)
    return NoMailer() if settings.production else ConsoleMailer()


def _jwt(settings: Settings, clock: Clock) -> JwtTokens:
    if settings.jwt_secret is None:
        raise RuntimeError("no JWT secret: build the settings with secrets_file.with_secrets()")
    return JwtTokens(settings.jwt_secret, clock)


async def close_redis(container: Container) -> None:
    """Close the container's Redis client, if it has one (whoever opens the store calls this
    when closing it, on the same event loop)."""
    client = container.redis()
    if client is not None:
        await client.aclose()


def _secret_box(settings: Settings) -> SecretBox:
    """The current key seals; it and the previous keys open (``from_settings`` raises a clear
    error when no key is configured: build the settings with ``with_secrets()``)."""
    return SecretBox.from_settings(settings.encryption_key, settings.previous_encryption_keys)


def _env_for(settings: Settings, uow: UnitOfWorkFactory) -> EnvProvider | None:
    """Deployments' variables as ``{{env.NAME}}`` (none where no key is configured: `run`)."""
    if settings.encryption_key is None:
        return None
    return deployment_env(uow=uow, secrets=_secret_box(settings))


def _network(settings: Settings, tracing: Tracing | None) -> GuardedNetwork:
    """The SSRF guard every outbound request made for a user goes through (API and LLM
    agents alike), built once from the settings; a client span per request when tracing."""
    return GuardedNetwork.build(
        allow_private=settings.http_allow_private,
        allowed_hosts=settings.http_allowed_hosts,
        wrap=None if tracing is None else tracing.transport,
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


def _executors(
    settings: Settings, functions: FunctionRegistry, worker_id: str, tracing: Tracing | None
) -> AgentExecutors:
    """Every agent type's executor; FUNCTION steps run the Python functions registered in
    ``functions`` (empty unless the process registers some)."""
    network = _network(settings, tracing)
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


class Container(containers.DeclarativeContainer):
    """One per process. ``Container(settings=providers.Object(s))`` to inject settings."""

    __self__ = providers.Self()
    settings = providers.Singleton(Settings.load)
    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidV7Generator)
    random = providers.Singleton(SystemRandom)
    tracing = providers.Singleton(tracing_from_environment)
    """OpenTelemetry traces (``turbocat_adapters.tracing``): ``None`` unless ``OTEL_*`` ask
    for them and the ``otel`` extra is installed."""

    store = providers.Singleton(_store, settings)
    """Not opened: whoever uses the container opens and closes it (``Store.open``)."""
    uow = store.provided.unit_of_work
    hasher = providers.Singleton(
        BcryptHasher, rounds=providers.Callable(lambda s: s.bcrypt_rounds, settings)
    )

    shared = providers.Selector(
        providers.Callable(_mode, settings),
        local=providers.Singleton(
            local_parts, store, clock, runner=providers.Callable(_runs_later, __self__)
        ),
        fleet=providers.Singleton(fleet_parts, settings, clock, tracing),
    )
    """What every process of the deployment shares, picked here once (``shared.py``): with
    ``TURBOCAT_REDIS_URL``, sessions, reset tokens, accepted webhooks, limits, claims,
    cancellation requests and the RQ queue live in Redis; without, in this process."""
    queue = shared.provided.queue
    claims = shared.provided.claims
    cancellation = shared.provided.cancellation
    redis = shared.provided.redis
    """``None`` without Redis; whoever opens the store closes it too (``close_redis``)."""
    rq_connection = shared.provided.rq_connection
    worker_id = providers.Singleton(_worker_id)
    functions = providers.Singleton(
        container_functions, providers.Callable(lambda s: s.functions, settings)
    )
    """The Python functions FUNCTION steps may name: this container's own (the facade's
    ``tc.function``) over the process's (``@function``), once ``TURBOCAT_FUNCTIONS``'
    modules are imported (``ValidationFailed`` naming one that cannot be)."""
    executors = providers.Singleton(_executors, settings, functions, worker_id, tracing)
    logs = providers.Singleton(LogBroadcast)
    observer = providers.Singleton(_observer, settings, tracing)
    """Told what the engine does (``engine.observer``): metrics and traces."""
    http_metrics = providers.Singleton(_http_metrics, settings)
    """What the HTTP edge reports each request to (``None``: metrics are off)."""
    api_usage = shared.provided.api_usage
    """What the API answered per minute, for the deployment (system health)."""
    get_api_traffic = providers.Factory(GetApiTraffic, usage=api_usage)
    metrics_access = providers.Singleton(MetricsAccess.from_settings, settings)
    deployment_metrics = providers.Singleton(DeploymentCollector, queue=queue, store=store)
    """The queue's and the pool's figures, read at each scrape."""
    engine = providers.Singleton(
        Engine,
        uow=uow,
        clock=clock,
        ids=ids,
        random=random,
        executors=executors,
        cancellation=cancellation,
        settings=providers.Callable(_engine_settings, settings, shared),
        env_for=providers.Callable(_env_for, settings, uow),
        on_log=logs,
        claims=claims,
        observer=observer,
    )
    run_queued = providers.Singleton(
        RunQueued, engine=engine, queue=queue, claims=claims, clock=clock, holder=worker_id
    )
    """What the queue runs for each job (the fleet's workers, or ``queue`` itself locally)."""
    resume_interrupted = providers.Factory(ResumeInterrupted, uow=uow, queue=queue)
    """A lone process, at start-up: queue again what a stopped one left unfinished."""
    reaper = providers.Factory(
        Reaper,
        uow=uow,
        claims=claims,
        queue=queue,
        clock=clock,
        holder=worker_id,
        jobs_alive=queue.provided.job_alive,
    )
    """A fleet worker's: queue again the runs whose worker is gone (RQ's queue only)."""

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
    sessions = shared.provided.sessions
    reset_tokens = shared.provided.reset_tokens
    limiter = shared.provided.limiter
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
    replay_guard = shared.provided.replay_guard
    reseal_secrets = providers.Factory(ResealSecrets, uow=uow, secrets=secret_box)
    prune_executions = providers.Factory(PruneExecutions, uow=uow, clock=clock)
    fire_due_schedules = providers.Factory(
        FireDueSchedules,
        uow=uow,
        clock=clock,
        ids=ids,
        start=start_execution,
        claims=shared.provided.schedule_claims,
        holder=worker_id,
    )
    scheduler = providers.Singleton(Scheduler, fire=fire_due_schedules, clock=clock)

    # What the HTTP resources call (a fresh use case per request)
    list_agents = providers.Factory(ListAgents, uow=uow)
    get_agent = providers.Factory(GetAgent, uow=uow)
    agent_versions = providers.Factory(AgentVersions, uow=uow)
    create_agent = providers.Factory(
        CreateAgent, uow=uow, clock=clock, ids=ids, executors=executors
    )
    update_agent = providers.Factory(
        UpdateAgent, uow=uow, clock=clock, ids=ids, executors=executors
    )
    delete_agent = providers.Factory(DeleteAgent, uow=uow, clock=clock, ids=ids)
    duplicate_agent = providers.Factory(DuplicateAgent, uow=uow, clock=clock, ids=ids)
    list_workflows = providers.Factory(ListWorkflows, uow=uow)
    get_workflow = providers.Factory(GetWorkflow, uow=uow)
    create_workflow = providers.Factory(CreateWorkflow, uow=uow, clock=clock, ids=ids)
    update_workflow = providers.Factory(UpdateWorkflow, uow=uow, clock=clock, ids=ids)
    delete_workflow = providers.Factory(DeleteWorkflow, uow=uow, clock=clock, ids=ids)
    export_workflow = providers.Factory(ExportWorkflow, uow=uow, files=workflow_files)
    list_workflow_executions = providers.Factory(ListWorkflowExecutions, uow=uow)
    get_execution = providers.Factory(GetExecution, uow=uow)
    list_execution_logs = providers.Factory(ListExecutionLogs, uow=uow)
    list_child_executions = providers.Factory(ListChildExecutions, uow=uow)
    watch_execution = providers.Factory(WatchExecution, uow=uow)
    list_templates = providers.Factory(ListTemplates, uow=uow)
    template_categories = providers.Factory(TemplateCategories, uow=uow)
    get_template = providers.Factory(GetTemplate, uow=uow)
    instantiate_template = providers.Factory(
        InstantiateTemplate,
        uow=uow,
        clock=clock,
        ids=ids,
        executors=executors,
        files=workflow_files,
    )
    create_deployment = providers.Factory(
        CreateDeployment, uow=uow, clock=clock, ids=ids, random=random, secrets=secret_box
    )
    list_deployments = providers.Factory(ListDeployments, uow=uow)
    get_deployment = providers.Factory(GetDeployment, uow=uow, clock=clock)
    update_deployment = providers.Factory(
        UpdateDeployment, uow=uow, clock=clock, ids=ids, secrets=secret_box
    )
    delete_deployment = providers.Factory(DeleteDeployment, uow=uow, clock=clock, ids=ids)
    start_deployment = providers.Factory(StartDeployment, uow=uow, clock=clock, ids=ids)
    stop_deployment = providers.Factory(StopDeployment, uow=uow, clock=clock, ids=ids)
    list_deployment_events = providers.Factory(ListDeploymentEvents, uow=uow)
    receive_webhook = providers.Factory(
        ReceiveWebhook,
        uow=uow,
        clock=clock,
        ids=ids,
        secrets=secret_box,
        start=start_execution,
        replay=replay_guard,
    )
    get_overview = providers.Factory(GetOverview, uow=uow)
    get_agent_metrics = providers.Factory(GetAgentMetrics, uow=uow, clock=clock)
    get_workflow_metrics = providers.Factory(GetWorkflowMetrics, uow=uow, clock=clock)
    list_audit_logs = providers.Factory(ListAuditLogs, uow=uow)
