"""``SubprocessCodeRunner``: the ``CodeRunner`` port over asyncio subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Final, Literal

from turbocat_adapters.code.reaper import kill_uid, reaper_argv, tasks_of
from turbocat_adapters.code.sandbox import (
    TASK_BUDGET,
    ChildSetup,
    Isolation,
    Runtime,
    bubblewrap_argv,
    child_env,
    find_runtime,
    fresh_uid,
    limits_for,
    namespaces_argv,
)
from turbocat_core.agents.failures import AgentFailure
from turbocat_core.ports.agents import CodeRequest, CodeResult

log = logging.getLogger(__name__)

READ_CHUNK: Final = 64 * 1024
DRAIN_GRACE_SECONDS: Final = 1.0
"""How long output may still flow once the child is dead (a grandchild outside the sandbox
that escaped the process group may hold the pipes open: it is not waited for)."""

EXIT_POLL_SECONDS: Final = 0.01
REAPER_GRACE_SECONDS: Final = 5.0
"""How long the reaper (``rlimits`` level) has to end what the child started once told to."""
PROBE_SECONDS: Final = 10.0
WRAPPED: Final = frozenset({Isolation.BUBBLEWRAP, Isolation.NAMESPACES})
"""Levels whose init reports a signal as 128 + N, like a shell."""

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
    environment, rlimits, its own session and a wall-clock timeout, at the strongest
    isolation level that works here (``sandbox.py``), and kills every process it started
    when it returns or is cancelled.

    ``sandbox``: ``auto`` (bubblewrap if usable, else the best level without it, logged once
    as a warning), ``bubblewrap`` (required: a run fails without it) or ``none`` (never
    bubblewrap). Without bubblewrap a root worker still runs the code as a fresh uid, in new
    namespaces unless ``namespaces`` is false or ``unshare`` is refused here.
    """

    def __init__(
        self,
        *,
        sandbox: SandboxMode = "auto",
        temp_root: str | None = None,
        namespaces: bool = True,
    ) -> None:
        self.sandbox = sandbox
        self.temp_root = temp_root
        self.namespaces = namespaces
        self._bwrap: str | None = None
        self._unshare: str | None = None
        self._probed = False
        self._lock = asyncio.Lock()
        self._root = os.geteuid() == 0
        self._setpriv = _tool("setpriv")

    async def isolation(self) -> Isolation:
        """The level runs get here (probing ``bwrap`` and ``unshare`` once: they may exist
        and still be refused namespaces, as in unprivileged containers)."""
        async with self._lock:
            if not self._probed:
                await self._probe_all()
                self._probed = True
        if self._bwrap is not None:
            return Isolation.BUBBLEWRAP
        if self.sandbox == "bubblewrap":
            raise AgentFailure(
                "bubblewrap is required for CODE agents but is not usable on this worker",
                retryable=False,
            )
        return self._level_without_bwrap()

    def _level_without_bwrap(self) -> Isolation:
        if not self._root:
            return Isolation.RLIMITS
        return Isolation.NAMESPACES if self._unshare else Isolation.UID

    async def _probe_all(self) -> None:
        bwrap = shutil.which("bwrap") if self.sandbox != "none" else None
        if bwrap is not None:
            argv = bubblewrap_argv(
                bwrap,
                Runtime("probe", "/bin/true", "/usr"),
                tempfile.gettempdir(),
                ["/bin/true"],
                uid=0 if self._root and self._setpriv else None,
                setpriv=self._setpriv if self._root else None,
            )
            self._bwrap = bwrap if await _works(argv) else None
        unshare = _tool("unshare")
        if self._bwrap is None and self._root and self.namespaces and unshare and self._setpriv:
            argv = namespaces_argv(unshare, self._setpriv, fresh_uid(), ["/bin/true"])
            self._unshare = unshare if await _works(argv) else None
        if self._bwrap is None and self.sandbox == "auto":
            log.warning(
                "CODE agents run without bubblewrap: %s", WITHOUT_BWRAP[self._level_without_bwrap()]
            )

    async def run(self, request: CodeRequest) -> CodeResult:
        isolation = await self.isolation()
        shared = isolation in (Isolation.NAMESPACES, Isolation.UID)
        runtime = find_runtime(request.runtime, shared=shared)
        workdir = tempfile.mkdtemp(prefix="turbocat-code-", dir=self.temp_root)
        try:
            uid = fresh_uid() if self._root and (shared or self._setpriv) else None
            if uid is not None:
                os.chown(workdir, uid, uid)
                # bwrap enters it before the uid switch, as root without CAP_DAC_OVERRIDE.
                os.chmod(workdir, 0o711)
            tasks: int | None
            if uid is not None:
                tasks = TASK_BUDGET
            elif self._root:
                tasks = None  # not enforced for root: the pid namespace still ends them all
            else:  # the reaper is one more task of this uid
                tasks = await asyncio.to_thread(tasks_of, os.getuid()) + TASK_BUDGET + 1
            limits = limits_for(runtime, request.timeout_seconds, request.memory_mb, tasks)
            command = runtime.argv(request.program, request.memory_mb)
            setup = ChildSetup(limits)
            if isolation is Isolation.BUBBLEWRAP:
                assert self._bwrap is not None
                command = bubblewrap_argv(
                    self._bwrap, runtime, workdir, command, uid=uid, setpriv=self._setpriv
                )
            elif isolation is Isolation.NAMESPACES:
                assert self._unshare is not None
                assert self._setpriv is not None
                assert uid is not None
                command = namespaces_argv(self._unshare, self._setpriv, uid, command)
            elif isolation is Isolation.UID:
                setup = ChildSetup(limits, uid=uid)
            else:  # on the runner's death the reaper still ends what the child started
                command = reaper_argv(command)
                setup = ChildSetup(limits, death_signal=signal.SIGTERM)
            return await self._spawn(request, command, workdir, setup, isolation, uid)
        finally:
            await asyncio.to_thread(_remove, workdir)

    async def _spawn(
        self,
        request: CodeRequest,
        command: list[str],
        workdir: str,
        setup: ChildSetup,
        isolation: Isolation,
        uid: int | None,
    ) -> CodeResult:
        out = _Captured(bytearray(), bytearray())
        err = _Captured(bytearray(), bytearray())
        started = time.monotonic()
        try:
            # The one spawn path, the same on asyncio's loop and on uvloop (``turbocat
            # serve``): whatever the child must do as itself happens in ``setup``.
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=workdir,
                env=child_env(workdir),
                start_new_session=True,
                preexec_fn=setup,
            )
        except (OSError, subprocess.SubprocessError) as error:
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
            await _end(process, isolation, uid)
            _, pending = await asyncio.wait(io, timeout=DRAIN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*io, return_exceptions=True)
        duration_ms = (time.monotonic() - started) * 1000
        code = process.returncode if process.returncode is not None else -signal.SIGKILL
        if isolation in WRAPPED and 128 < code < 128 + 65:
            code = 128 - code
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


WITHOUT_BWRAP: Final = {
    Isolation.NAMESPACES: "each run as a fresh uid in new pid, mount, network, IPC and UTS "
    "namespaces (unshare), with no read-only view of the filesystem",
    Isolation.UID: "each run as a fresh uid with no namespaces (unshare is refused here): it "
    "can read world-readable files and reach the network",
    Isolation.RLIMITS: "rlimits only, as the server's own user: the code can signal and read "
    "the server (install bubblewrap)",
}


def _tool(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/bin:/bin")


async def _works(argv: list[str]) -> bool:
    """Whether ``argv`` (a wrapper around ``/bin/true``) runs here."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), PROBE_SECONDS)
    except (OSError, TimeoutError):
        return False
    if process.returncode != 0:
        log.warning("%s is installed but failed: %s", argv[0], err.decode(errors="replace")[-300:])
        return False
    return True


async def _end(process: asyncio.subprocess.Process, isolation: Isolation, uid: int | None) -> None:
    """Kill the child's process group and every process of the run: the reaper ends what it
    saw started (``rlimits``), the sweep every process of the run's uid (a ``setsid`` one
    too), the kernel the rest of a pid namespace when its init dies."""
    if isolation is Isolation.RLIMITS and process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_exited(process), REAPER_GRACE_SECONDS)
    _kill_group(process.pid)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_exited(process), 5)
    if uid is not None:
        left = await asyncio.to_thread(kill_uid, uid)
        if left:
            log.error("CODE run of uid %d: processes %s survived SIGKILL", uid, left)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
