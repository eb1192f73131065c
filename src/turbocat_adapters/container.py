"""The composition root: settings -> adapters -> engine and use cases (dependency-injector)."""

from __future__ import annotations

from dependency_injector import containers, providers

from turbocat_adapters.memory import InProcessCancellation, InProcessQueue
from turbocat_adapters.security import BcryptHasher
from turbocat_adapters.settings import Settings
from turbocat_adapters.stores import Store, build_store
from turbocat_adapters.system import SystemClock, SystemRandom, UuidV7Generator
from turbocat_core.agents.contract import AgentExecutors
from turbocat_core.agents.data_agent import DataAgent
from turbocat_core.domain.agent import AgentType
from turbocat_core.engine.events import LogBroadcast
from turbocat_core.engine.runner import Engine, EngineSettings
from turbocat_core.usecases.executions import CancelExecution, RetryExecution, StartExecution
from turbocat_core.usecases.seed import Seed
from turbocat_core.usecases.workflow_files import ImportWorkflow, WorkflowFiles


def _engine_settings(settings: Settings) -> EngineSettings:
    return EngineSettings(max_step_output_bytes=settings.max_step_output_bytes)


def _store(settings: Settings) -> Store:
    return build_store(settings.database_url, settings.data_dir)


def _executors() -> AgentExecutors:
    # API, LLM, CODE and WORKFLOW executors plug in here as their adapters land (issue 7);
    # until then a step using one fails with "no <TYPE> executor is configured".
    return AgentExecutors({AgentType.DATA: DataAgent()})


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

    cancellation = providers.Singleton(InProcessCancellation)
    executors = providers.Singleton(_executors)
    logs = providers.Singleton(LogBroadcast)
    engine = providers.Singleton(
        Engine,
        uow=uow,
        clock=clock,
        ids=ids,
        random=random,
        executors=executors,
        cancellation=cancellation,
        settings=providers.Callable(_engine_settings, settings),
        on_log=logs,
    )
    queue = providers.Singleton(InProcessQueue, runner=engine.provided.run, clock=clock)

    workflow_files = providers.Singleton(WorkflowFiles, clock=clock, ids=ids, executors=executors)
    import_workflow = providers.Factory(ImportWorkflow, uow=uow, files=workflow_files)
    start_execution = providers.Factory(StartExecution, uow=uow, clock=clock, ids=ids, queue=queue)
    cancel_execution = providers.Factory(
        CancelExecution, uow=uow, clock=clock, ids=ids, cancellation=cancellation
    )
    retry_execution = providers.Factory(RetryExecution, uow=uow, clock=clock, ids=ids, queue=queue)
    seed = providers.Factory(
        Seed, uow=uow, clock=clock, ids=ids, random=random, hasher=hasher, files=workflow_files
    )
