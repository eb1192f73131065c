"""``Turbocat``: the runtime embedded in a Python program (docs/embedding.md)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import fields
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, overload
from uuid import UUID

from dependency_injector import providers

from turbocat_adapters.container import Container, close_redis
from turbocat_adapters.database_url import redact
from turbocat_adapters.documents import fingerprint, read_document
from turbocat_adapters.settings import Settings
from turbocat_adapters.store_contract import Store
from turbocat_adapters.store_lock import AdvisoryLock, FileLock, NoLock, StoreLock
from turbocat_core.agents.function_agent import FunctionWrapper
from turbocat_core.domain.access import Actor
from turbocat_core.domain.common import ExecutionId, ListQuery, WorkflowId
from turbocat_core.domain.execution import Execution, ExecutionLog, ExecutionStatus, LogQuery
from turbocat_core.domain.user import LOCAL_OWNER_ID, UserRole
from turbocat_core.domain.workflow import WORKFLOW_QUERY, WorkflowStatus
from turbocat_core.errors import FieldError, ValidationFailed
from turbocat_core.usecases.executions import ExecutionWithRuns

if TYPE_CHECKING:
    from datetime import datetime

    from turbocat_adapters.testing.runtime import TurbocatUnderTest

F = TypeVar("F", bound=Callable[..., Any])
Workflow = Mapping[str, Any] | str | PathLike[str]
"""A workflow-file document (a dict), or the path of a JSON or YAML workflow file."""
ExecutionRef = ExecutionId | UUID | str
TAG_PREFIX: Final = "turbocat:sha256:"
"""Workflows imported by an embedded runtime carry ``turbocat:sha256:<40 hex>``: the
fingerprint of their file, so a program started again finds them instead of importing
them again."""
RECHECK_SECONDS: Final = 1.0
"""A waiter is woken by the run's log lines; it also looks again this often, in case a
change came without a line (a safety net, not the mechanism)."""
_NOT_SETTINGS: Final = {
    "database_url": "pass the store as the url argument: Turbocat('sqlite:///runs.db')",
    "redis_url": "the embedded runtime runs its workflows in this process; a fleet is "
    "`turbocat serve` and `turbocat worker` (docs/operations.md)",
}


def embedded_settings(url: str | None, overrides: Mapping[str, Any]) -> Settings:
    """The settings of an embedded runtime: the defaults, ``url`` as the store, and the
    given fields of ``Settings``. Nothing is read from the environment or a ``.env`` file.

    ``TypeError`` for a name that is not a setting or a value of the wrong type.
    """
    known = {field.name: field for field in fields(Settings)}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        names = ", ".join(sorted(set(known) - set(_NOT_SETTINGS)))
        raise TypeError(f"Turbocat() got unknown setting(s) {', '.join(unknown)}; known: {names}")
    values: dict[str, Any] = {}
    for name, value in overrides.items():
        if name in _NOT_SETTINGS:
            raise TypeError(f"Turbocat(): {name} is not an embedded setting: {_NOT_SETTINGS[name]}")
        values[name] = _coerced(name, value, known[name].default)
    if url is not None and not isinstance(url, str):
        raise TypeError(f"Turbocat(url): a URL string, got {type(url).__name__}")
    return Settings(database_url=(url or "memory://").strip(), **values)


def _coerced(name: str, value: Any, default: Any) -> Any:
    if isinstance(default, Path) and isinstance(value, str | PathLike):
        return Path(value)
    if isinstance(default, tuple) and isinstance(value, list | tuple):
        return tuple(value)
    wrong = default is not None and (
        not isinstance(value, type(default))
        or (isinstance(value, bool) and not isinstance(default, bool))
    )
    if wrong:
        raise TypeError(
            f"Turbocat(): setting {name} takes {type(default).__name__}, got {type(value).__name__}"
        )
    return value


def _lock_for(store: Store, settings: Settings) -> StoreLock:
    path = getattr(store, "path", None)
    if store.kind == "sqlite" and isinstance(path, Path):
        return FileLock(path)
    if store.kind == "postgres" and settings.database_url:
        return AdvisoryLock(settings.database_url, redact(settings.database_url))
    return NoLock()


def _execution_id(value: ExecutionRef) -> ExecutionId:
    if isinstance(value, UUID):
        return ExecutionId(value)
    try:
        return ExecutionId(UUID(str(value)))
    except ValueError:
        raise ValidationFailed.field("execution_id", f"not an execution id: {value!r}") from None


class Turbocat:
    """Turbocat in this process: register Python functions, run workflow files, durably on
    SQLite or PostgreSQL.

    ``url``: ``memory://`` (the default: runs last as long as the object), ``sqlite:///path``
    or ``postgresql://...``. ``settings``: fields of ``turbocat_adapters.settings.Settings``
    (``max_step_output_bytes=...``, ``code_sandbox="none"``...); nothing comes from the
    environment. Runs belong to the built-in local owner. Open it with ``async with tc:``
    (or let :meth:`run_sync` open it), which opens and migrates the store, takes the store's
    embedded lock (``StoreInUse`` if another program holds it) and resumes this store's
    interrupted runs.
    """

    def __init__(self, url: str | None = None, **settings: Any) -> None:
        self._build(embedded_settings(url, settings))

    @classmethod
    def from_settings(cls, settings: Settings) -> Turbocat:
        """A runtime over settings made elsewhere, e.g. ``Settings.load()`` for a program
        configured by ``TURBOCAT_*`` variables (``turbocat run`` does this); the store is
        ``settings.database_url``. ``TypeError`` if they name a Redis fleet."""
        if settings.redis_url is not None:
            raise TypeError(f"Turbocat: {_NOT_SETTINGS['redis_url']}")
        runtime = cls.__new__(cls)
        runtime._build(settings)
        return runtime

    @classmethod
    def for_tests(
        cls,
        *,
        time: Literal["skip", "manual"] = "skip",
        start: datetime | None = None,
        seed: int = 0,
        **settings: Any,
    ) -> TurbocatUnderTest:
        """A runtime for tests (docs/testing.md): in memory, on a clock (``tc.clock``) whose
        time skips to the next due time whenever every run is waiting on time (a WAIT, a
        retry's backoff, a queued run); ``time="manual"``: time moves only by
        ``tc.clock.advance(seconds)``. ``start``: the clock's first reading (default now);
        ``seed``: its randomness (retry jitter), so that a run repeats exactly."""
        from turbocat_adapters.testing.runtime import TurbocatUnderTest

        return TurbocatUnderTest(time=time, start=start, seed=seed, **settings)

    def _build(self, settings: Settings) -> None:
        self.settings = settings
        self._container = Container(settings=providers.Object(self.settings))
        try:
            self._store: Store = self._container.store()
        except ValidationFailed as error:
            reason = error.details[0].message if error.details else error.message
            raise ValidationFailed.field("url", reason) from None
        self._lock = _lock_for(self._store, self.settings)
        self._actor = Actor(user_id=LOCAL_OWNER_ID, role=UserRole.USER)
        self._workflows: dict[str, WorkflowId] = {}
        self._private = self._store.kind == "memory"
        """A memory store is this object's alone: nothing changes it between two openings,
        so what this object knows of it stays true (no look-ups when it opens again)."""
        self._stopped: list[ExecutionId] = []
        """A memory store's runs whose jobs the last closing stopped: the next opening
        resumes those (a durable store is searched for interrupted runs instead)."""
        self._watchers: dict[ExecutionId, set[_Watcher]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._importing: asyncio.Lock | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.resumed = 0
        """How many interrupted runs the last opening queued again."""

    def __repr__(self) -> str:
        state = "open" if self._loop is not None else "closed"
        return f"<Turbocat {redact(self.settings.database_url)} {state}>"

    # --- functions --------------------------------------------------------------------

    @overload
    def function(self, fn: F, /) -> F: ...

    @overload
    def function(self, name: str | None = None, /) -> Callable[[F], F]: ...

    def function(self, fn_or_name: Any = None, /) -> Any:
        """Register a function ``fn(inputs, ctx)`` (sync or async, returning a JSON value) as
        a step: ``@tc.function`` under its own name, ``@tc.function("name")`` under another.
        ``ValueError`` for an empty name or a name taken by another function."""
        registry = self._container.functions()
        if callable(fn_or_name):
            name = getattr(fn_or_name, "__name__", None)
            if not isinstance(name, str):
                raise TypeError("@tc.function on a callable without a __name__: name it")
            return registry.register(name, fn_or_name)
        if fn_or_name is not None and not isinstance(fn_or_name, str):
            raise TypeError("@tc.function takes a function or a name")

        def decorate(fn: F) -> F:
            registry.register(fn_or_name if fn_or_name is not None else fn.__name__, fn)
            return fn

        return decorate

    @property
    def functions(self) -> tuple[str, ...]:
        """The names of the registered functions, sorted."""
        return self._container.functions().names

    def wrap_functions(self, wrapper: FunctionWrapper | None) -> None:
        """Have this runtime's steps call ``wrapper(name, fn)`` (what it returns) instead of
        each registered function ``fn``, until ``wrap_functions(None)``: the seam for test
        doubles (``turbocat_adapters.testing.faults`` is built on it). One wrapper at a time;
        the functions stay registered as they are, and other runtimes are not affected."""
        self._container.functions().wrap(wrapper)

    # --- opening and closing ----------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._loop is not None

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop this runtime is open in (its runs are tasks there), ``None`` while
        closed: what closes it from outside that loop, as the pytest plugin's teardown does,
        runs ``__aexit__`` there."""
        return self._loop

    async def __aenter__(self) -> Turbocat:
        if self._loop is not None:
            raise RuntimeError("this Turbocat is already open")
        await self._lock.acquire()
        self._loop = asyncio.get_running_loop()
        self._importing = asyncio.Lock()
        try:
            await self._store.open()
            await self._store.migrate()  # SQLite migrates when opened; PostgreSQL here
            self._unsubscribe = self._container.logs().subscribe(self._on_log)
            if self._private:
                self.resumed = await self._resume_stopped()
            else:
                resume = self._container.resume_interrupted(owner=LOCAL_OWNER_ID)
                self.resumed = await resume()
        except BaseException:
            await self._close()
            raise
        return self

    async def _resume_stopped(self) -> int:
        """Queue again the unfinished runs whose jobs the last closing stopped."""
        stopped, self._stopped = self._stopped, []
        async with self._container.uow()() as uow:
            statuses = [await uow.executions.status_of(eid) for eid in stopped]
        queue = self._container.queue()
        unfinished = [
            eid
            for eid, status in zip(stopped, statuses, strict=True)
            if status and not status.finished
        ]
        for eid in unfinished:
            await queue.enqueue_execution(eid)
        return len(unfinished)

    async def __aexit__(self, *exc_info: object) -> None:
        await self._close()

    async def _close(self) -> None:
        """Stop the runs in flight (on a durable store the next opening resumes them), close
        the store and release its lock."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        try:
            queue = self._container.queue()
            stopped = await queue.close()
            if self._private and isinstance(stopped, list):
                self._stopped = stopped
            await self._store.close()
            await close_redis(self._container)
        finally:
            await self._lock.release()
            if not self._private:
                self._workflows.clear()  # the store may change before the next opening
            self._loop = None
            self._importing = None

    def _require_open(self) -> None:
        if self._loop is None:
            raise RuntimeError(
                "this Turbocat is not open: use `async with tc:` (or tc.run_sync outside asyncio)"
            )

    # --- workflows --------------------------------------------------------------------

    async def _workflow_id(self, workflow: Workflow) -> WorkflowId:
        """The stored workflow for this document: imported once per content and store."""
        if isinstance(workflow, str | PathLike):
            document: Any = read_document(Path(workflow))
        elif isinstance(workflow, Mapping):
            document = dict(workflow)
        else:
            raise TypeError(f"a workflow is a dict or a file path, got {type(workflow).__name__}")
        key = fingerprint(document)
        known = self._workflows.get(key)
        if known is not None:
            return known
        assert self._importing is not None
        async with self._importing:
            known = self._workflows.get(key)
            if known is None:
                known = await self._import(document, f"{TAG_PREFIX}{key[:40]}")
                self._workflows[key] = known
        return known

    async def _import(self, document: Any, tag: str) -> WorkflowId:
        files = self._container.workflow_files()
        try:
            files.blueprint(document, LOCAL_OWNER_ID)  # every problem, before any lookup
        except ValidationFailed as error:
            raise _naming_steps(error, document) from None
        if self._private:  # every workflow of the store is in self._workflows
            return await self._store_new(document, tag)
        query = ListQuery.build(
            WORKFLOW_QUERY,
            page_size=1,
            tags=(tag,),
            owner_id=LOCAL_OWNER_ID,
            filters={"status": WorkflowStatus.ACTIVE},
        )
        async with self._container.uow()() as uow:
            stored = await uow.workflows.list(query)
        if stored.items:
            found: WorkflowId = stored.items[0].id
            return found
        return await self._store_new(document, tag)

    async def _store_new(self, document: Any, tag: str) -> WorkflowId:
        tags = document.get("tags", [])
        tagged = {**document, "tags": [*tags, tag] if isinstance(tags, list) else tags}
        blueprint = await self._container.import_workflow()(
            self._actor, tagged, status=WorkflowStatus.ACTIVE
        )
        return blueprint.workflow.id

    # --- running ----------------------------------------------------------------------

    async def start(
        self,
        workflow: Workflow,
        *,
        inputs: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Execution:
        """Queue a run of ``workflow`` and return its PENDING execution at once.

        ``ValidationFailed`` for a bad file (naming the step and function for a function
        that is not registered) before anything runs.
        """
        self._require_open()
        for name, value in (("inputs", inputs), ("metadata", metadata)):
            if value is not None and not isinstance(value, Mapping):
                raise ValidationFailed.field(name, "must be an object (a dict)")
        workflow_id = await self._workflow_id(workflow)
        return await self._container.start_execution()(
            self._actor,
            workflow_id,
            inputs=dict(inputs) if inputs is not None else None,
            metadata=dict(metadata) if metadata is not None else None,
        )

    async def run(
        self,
        workflow: Workflow,
        *,
        inputs: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> ExecutionWithRuns:
        """Run ``workflow`` to its end and return the finished execution (whatever its
        status: COMPLETED, FAILED, TIMEOUT or CANCELLED). ``TimeoutError`` after
        ``timeout`` seconds (the run goes on: :meth:`cancel` it if needed)."""
        execution = await self.start(workflow, inputs=inputs, metadata=metadata)
        return await self._wait(execution.id, timeout, unfinished=True)

    async def wait(
        self, execution_id: ExecutionRef, timeout: float | None = None
    ) -> ExecutionWithRuns:
        """The execution once it has finished and nothing more will be recorded for it (a
        cancelled run's interrupted steps included), with its step states.
        ``TimeoutError`` naming it after ``timeout`` seconds; ``NotFound`` if unknown."""
        self._require_open()
        return await self._wait(_execution_id(execution_id), timeout)

    async def _wait(
        self, eid: ExecutionId, timeout: float | None, *, unfinished: bool = False
    ) -> ExecutionWithRuns:
        """:meth:`wait`; ``unfinished``: the caller has just seen the execution unfinished,
        so there is nothing to read before it changes."""
        try:
            async with asyncio.timeout(timeout):
                # Woken by the run's own lines (started, finished...), not its steps' (a
                # look reads every step state: once per step would be quadratic); and then
                # only its status is read until it has finished.
                with self._watch(eid, every_line=False) as changed:
                    look = not unfinished
                    while True:
                        changed.clear()
                        if look or await self._finished(eid):
                            execution, settled = await self._look(eid)
                            if settled:
                                return execution
                            # Finished but not settled (a cancel): its steps' last lines count.
                            changed.every_line = execution.status.finished
                        look = False
                        await _changed_or_recheck(changed)
        except TimeoutError:
            raise TimeoutError(f"execution {eid} did not finish within {timeout} s") from None

    async def cancel(self, execution_id: ExecutionRef) -> Execution:
        """Cancel a PENDING or RUNNING execution; the CANCELLED execution (its running steps
        stop at once). ``InvalidState`` if it had already finished."""
        self._require_open()
        eid = _execution_id(execution_id)
        cancelled = await self._container.cancel_execution()(self._actor, eid)
        self._notify(eid)
        return cancelled

    async def retry(self, execution_id: ExecutionRef, *, from_start: bool = False) -> Execution:
        """Run a FAILED, CANCELLED or TIMEOUT execution again as a new PENDING execution
        (returned at once: :meth:`wait` for it), reusing its completed steps unless
        ``from_start``. ``InvalidState`` for any other status."""
        self._require_open()
        eid = _execution_id(execution_id)
        return await self._container.retry_execution()(self._actor, eid, from_start=from_start)

    # --- reading ----------------------------------------------------------------------

    async def get(self, execution_id: ExecutionRef) -> ExecutionWithRuns:
        """The execution now, with its steps' states (``step_runs``); ``NotFound`` if unknown."""
        self._require_open()
        return await self._container.get_execution()(self._actor, _execution_id(execution_id))

    async def logs(self, execution_id: ExecutionRef) -> list[ExecutionLog]:
        """Every log line of the execution so far, in order."""
        self._require_open()
        eid = _execution_id(execution_id)
        read = self._container.list_execution_logs()
        lines: list[ExecutionLog] = []
        while True:
            after = lines[-1].seq if lines else 0
            page = await read(self._actor, eid, LogQuery(after_seq=after, page_size=500))
            lines.extend(page.items)
            if not page.has_next:
                return lines

    async def events(self, execution_id: ExecutionRef) -> AsyncIterator[ExecutionLog | Execution]:
        """The execution's log lines (``ExecutionLog``) as they are written, from the first,
        and its status changes (an ``Execution``, the first one being its status now), until
        it has finished: the last item is the finished ``Execution``."""
        self._require_open()
        eid = _execution_id(execution_id)
        watch = self._container.watch_execution()
        cursor = 0
        status: ExecutionStatus | None = None
        with self._watch(eid) as changed:
            while True:
                changed.clear()
                progress = await watch(self._actor, eid, after_seq=cursor)
                for line in progress.lines:
                    cursor = line.seq
                    yield line
                if progress.settled and not progress.more:
                    yield progress.execution
                    return
                if progress.execution.status is not status:
                    status = progress.execution.status
                    yield progress.execution
                if not progress.more:
                    await _changed_or_recheck(changed)

    # --- without asyncio --------------------------------------------------------------

    def run_sync(
        self,
        workflow: Workflow,
        *,
        inputs: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> ExecutionWithRuns:
        """:meth:`run` for programs without asyncio: opens the runtime, runs, closes it.
        ``RuntimeError`` when called from a running event loop (``await tc.run(...)``)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("tc.run_sync() cannot block a running event loop: await tc.run()")
        if self._loop is not None:
            raise RuntimeError("this Turbocat is open in an event loop: await tc.run() there")

        async def main() -> ExecutionWithRuns:
            async with self:
                return await self.run(workflow, inputs=inputs, metadata=metadata, timeout=timeout)

        return asyncio.run(main())

    # --- watching ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _watch(self, execution_id: ExecutionId, *, every_line: bool = True) -> Iterator[_Watcher]:
        event = _Watcher(every_line)
        watchers = self._watchers.setdefault(execution_id, set())
        watchers.add(event)
        try:
            yield event
        finally:
            watchers.discard(event)
            if not watchers:
                self._watchers.pop(execution_id, None)

    def _on_log(self, line: ExecutionLog) -> None:
        run_level = line.step_key is None
        for event in self._watchers.get(line.execution_id, ()):
            if run_level or event.every_line:
                event.set()

    def _notify(self, execution_id: ExecutionId) -> None:
        for event in self._watchers.get(execution_id, ()):
            event.set()

    async def _finished(self, execution_id: ExecutionId) -> bool:
        """Whether the execution has finished, from its status alone (``True`` if it is gone:
        :meth:`_look` then says how)."""
        async with self._container.uow()() as uow:
            status = await uow.executions.status_of(execution_id)
        return status is None or status.finished

    async def _look(self, execution_id: ExecutionId) -> tuple[ExecutionWithRuns, bool]:
        """The execution, and whether it is settled: finished, and (cancelled once started)
        every step's state recorded."""
        execution = await self._container.get_execution()(self._actor, execution_id)
        if not execution.status.finished:
            return execution, False
        if execution.status is ExecutionStatus.CANCELLED and execution.started_at is not None:
            done = {run.step_key for run in execution.step_runs if run.status.finished}
            return execution, all(step.step_key in done for step in execution.steps)
        return execution, True


async def _changed_or_recheck(changed: asyncio.Event) -> None:
    """Return once ``changed`` is set, or after ``RECHECK_SECONDS``.

    ``asyncio.timeout``, not ``asyncio.wait_for``: on Python 3.11, ``wait_for`` swallows a
    cancellation that arrives just as the event is set (3.12 fixed it), and a program's
    Ctrl-C (``asyncio.run`` cancels its main task once) was then lost in ``tc.wait``.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(RECHECK_SECONDS):
            await changed.wait()


class _Watcher(asyncio.Event):
    """Set by the log lines of the execution it watches: every line, or (``every_line``
    false) only the run's own lines, those without a step key."""

    def __init__(self, every_line: bool) -> None:
        super().__init__()
        self.every_line = every_line


def _naming_steps(error: ValidationFailed, document: Any) -> ValidationFailed:
    """A function that is not registered, reported at the steps that call it."""
    steps = document.get("steps") if isinstance(document, dict) else None
    agents = document.get("agents") if isinstance(document, dict) else None
    if not isinstance(steps, list) or not isinstance(agents, dict):
        return error
    details: list[FieldError] = []
    for detail in error.details:
        parts = detail.field.split(".")
        if parts[:1] != ["agents"] or parts[2:] != ["config", "function"]:
            details.append(detail)
            continue
        agent = agents.get(parts[1])
        name = agent.get("config", {}).get("function") if isinstance(agent, dict) else None
        callers: list[tuple[int | None, Any]] = [
            (index, step.get("stepKey"))
            for index, step in enumerate(steps)
            if isinstance(step, dict) and step.get("agent") == parts[1]
        ]
        for index, key in callers or [(None, None)]:
            at = f"steps.{index}" if index is not None else detail.field
            who = f"step {key!r}" if key is not None else f"agent {parts[1]!r}"
            details.append(
                FieldError(
                    at,
                    f"{who} calls function {name!r}, which is not registered "
                    "(register it with @tc.function)",
                )
                if "not registered" in detail.message
                else FieldError(at, detail.message)
            )
    first = details[0]
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return ValidationFailed(f"{first.field}: {first.message}{more}", details)
