"""``SubprocessCodeRunner``: the ``CodeRunner`` port over asyncio subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import stat
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Final, Literal

from turbocat_adapters.code.sandbox import (
    TASK_BUDGET,
    Isolation,
    Runtime,
    bubblewrap_argv,
    child_env,
    find_runtime,
    fresh_uid,
    limits_for,
    tasks_of,
    world_reachable,
)
from turbocat_core.agents.failures import AgentFailure
from turbocat_core.ports import CodeRequest, CodeResult

log = logging.getLogger(__name__)

READ_CHUNK: Final = 64 * 1024
DRAIN_GRACE_SECONDS: Final = 1.0
"""How long output may still flow once the child is dead (a grandchild outside the sandbox
that escaped the process group may hold the pipes open: it is not waited for)."""

EXIT_POLL_SECONDS: Final = 0.01

SandboxMode = Literal["auto", "bubblewrap", "none"]


@dataclass(slots=True)
class _Captured:
    head: bytearray
    tail: bytearray
    total: int = 0


async def _drain(stream: asyncio.StreamReader, captured: _Captured, head: int, tail: int) -> None:
    while chunk := await stream.read(READ_CHUNK):
        captured.total += len(chunk)
        if len(captured.head) < head:
            captured.head += chunk[: head - len(captured.head)]
        captured.tail += chunk
        if len(captured.tail) > tail:
            del captured.tail[: len(captured.tail) - tail]


async def _feed(stream: asyncio.StreamWriter, data: bytes) -> None:
    # The child may exit without reading its input: that is its business, not an error.
    with contextlib.suppress(ConnectionError, BrokenPipeError):
        stream.write(data)
        await stream.drain()
    stream.close()


async def _exited(process: asyncio.subprocess.Process) -> None:
    """Until the child itself exits. (``Process.wait`` also waits for its pipes to close,
    which a grandchild may hold open until it is killed.)"""
    while process.returncode is None:
        await asyncio.sleep(EXIT_POLL_SECONDS)


def _text(data: bytearray) -> str:
    return bytes(data).decode("utf-8", "replace")


def _remove(path: str) -> None:
    def retry(function: Any, name: str, _: Any) -> None:
        # The code may have left a directory it cannot be listed or written through.
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(name), stat.S_IRWXU)
            os.chmod(name, stat.S_IRWXU)
            function(name)

    shutil.rmtree(path, onerror=retry)


class SubprocessCodeRunner:
    """Runs each program in a fresh empty temp directory (removed afterwards), with a scrubbed
    environment, rlimits, its own session, a wall-clock timeout that kills the whole process
    group, and inside bubblewrap when ``bwrap`` is installed and works here.

    ``sandbox``: ``auto`` (bubblewrap if usable, else rlimits only, logged once as a warning),
    ``bubblewrap`` (required: a run fails without it) or ``none``.
    """

    def __init__(self, *, sandbox: SandboxMode = "auto", temp_root: str | None = None) -> None:
        self.sandbox = sandbox
        self.temp_root = temp_root
        self._bwrap: str | None = None
        self._probed = False
        self._lock = asyncio.Lock()
        self._root = os.geteuid() == 0
        self._setpriv = shutil.which("setpriv") or shutil.which("setpriv", path="/usr/bin:/bin")

    async def isolation(self) -> Isolation:
        """The level runs get here (probing ``bwrap`` once: it may exist and still be refused
        namespaces, as in unprivileged containers)."""
        async with self._lock:
            if not self._probed:
                self._bwrap = await self._probe() if self.sandbox != "none" else None
                self._probed = True
                if self._bwrap is None and self.sandbox == "auto":
                    log.warning(
                        "CODE agents run without bubblewrap (not installed or not usable): "
                        "rlimits only, no filesystem or network isolation"
                    )
        if self._bwrap is None:
            if self.sandbox == "bubblewrap":
                raise AgentFailure(
                    "bubblewrap is required for CODE agents but is not usable on this worker",
                    retryable=False,
                )
            return Isolation.RLIMITS
        return Isolation.BUBBLEWRAP

    async def _probe(self) -> str | None:
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            return None
        argv = bubblewrap_argv(
            bwrap,
            Runtime("probe", "/bin/true", "/usr"),
            tempfile.gettempdir(),
            ["/bin/true"],
            uid=0 if self._root and self._setpriv else None,
            setpriv=self._setpriv if self._root else None,
        )
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await asyncio.wait_for(process.communicate(), 10)
        except (OSError, TimeoutError):
            return None
        if process.returncode != 0:
            log.warning("bwrap is installed but failed: %s", err.decode(errors="replace")[-300:])
            return None
        return bwrap

    async def run(self, request: CodeRequest) -> CodeResult:
        runtime = find_runtime(request.runtime)
        isolation = await self.isolation()
        sandboxed = isolation is Isolation.BUBBLEWRAP
        workdir = tempfile.mkdtemp(prefix="turbocat-code-", dir=self.temp_root)
        try:
            uid = await self._run_as(runtime, sandboxed)
            if uid is not None:
                os.chown(workdir, uid, uid)
                # bwrap enters it before the uid switch, as root without CAP_DAC_OVERRIDE.
                os.chmod(workdir, 0o711)
            tasks: int | None
            if uid is not None:
                tasks = TASK_BUDGET
            elif self._root:
                tasks = None  # not enforced for root: the pid namespace still ends them all
            else:
                tasks = await asyncio.to_thread(tasks_of, os.getuid()) + TASK_BUDGET
            limits = limits_for(runtime, request.timeout_seconds, request.memory_mb, tasks)
            command = runtime.argv(request.program, request.memory_mb)
            extra: dict[str, Any] = {}
            if sandboxed:
                assert self._bwrap is not None
                command = bubblewrap_argv(
                    self._bwrap,
                    runtime,
                    workdir,
                    command,
                    uid=uid,
                    setpriv=self._setpriv,
                )
            elif uid is not None:
                extra = {"user": uid, "group": uid, "extra_groups": []}
            return await self._spawn(request, command, workdir, limits.apply, extra, isolation)
        finally:
            await asyncio.to_thread(_remove, workdir)

    async def _run_as(self, runtime: Runtime, sandboxed: bool) -> int | None:
        """A fresh uid for the child when this worker is root (else RLIMIT_NPROC is void)."""
        if not self._root:
            return None
        if sandboxed:
            return fresh_uid() if self._setpriv else None
        reachable = await asyncio.to_thread(world_reachable, runtime.executable)
        return fresh_uid() if reachable else None

    async def _spawn(
        self,
        request: CodeRequest,
        command: list[str],
        workdir: str,
        preexec: Any,
        extra: dict[str, Any],
        isolation: Isolation,
    ) -> CodeResult:
        out = _Captured(bytearray(), bytearray())
        err = _Captured(bytearray(), bytearray())
        started = time.monotonic()
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=workdir,
                env=child_env(workdir),
                start_new_session=True,
                preexec_fn=preexec,
                **extra,
            )
        except OSError as error:
            raise AgentFailure(f"cannot start {request.runtime}: {error}") from None
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None
        io = [
            asyncio.create_task(_feed(process.stdin, request.stdin)),
            asyncio.create_task(
                _drain(process.stdout, out, request.output_cap, request.tail_bytes)
            ),
            asyncio.create_task(
                _drain(process.stderr, err, request.output_cap, request.tail_bytes)
            ),
        ]
        timed_out = False
        try:
            try:
                await asyncio.wait_for(_exited(process), request.timeout_seconds)
            except TimeoutError:
                timed_out = True
        finally:
            # Always, also on success and on cancellation: whatever the child left behind.
            _kill_group(process.pid)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_exited(process), 5)
            _, pending = await asyncio.wait(io, timeout=DRAIN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*io, return_exceptions=True)
        duration_ms = (time.monotonic() - started) * 1000
        code = process.returncode if process.returncode is not None else -signal.SIGKILL
        if isolation is Isolation.BUBBLEWRAP and 128 < code < 128 + 65:
            code = 128 - code  # bwrap reports a signal as 128 + N, like a shell
        return CodeResult(
            exit_code=code,
            stdout=_text(out.head),
            stderr=_text(err.head),
            stdout_tail=_text(out.tail),
            stderr_tail=_text(err.tail),
            stdout_bytes=out.total,
            stderr_bytes=err.total,
            duration_ms=duration_ms,
            timed_out=timed_out,
            isolation=str(isolation),
        )


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
