"""How a CODE child is confined: the interpreter, rlimits, a run-as uid and the wrapper argv.

Isolation levels (docs/agents.md, "CODE agent", "Isolation"), the first that works here:

- ``bubblewrap``: the child runs under ``bwrap`` with new pid, network, IPC and UTS
  namespaces, a read-only view of the system and the interpreter, and the workdir as the
  only writable place; ending ``bwrap`` ends every process in the sandbox.
- ``namespaces`` (root, no ``bwrap``): ``unshare`` gives the run new pid, mount (its own
  ``/proc``), network, IPC and UTS namespaces, and ``setpriv`` runs it as a fresh uid; when
  the run ends the kernel kills every process left in its pid namespace.
- ``uid`` (root, no ``bwrap``, namespaces refused): the child switches to a fresh uid
  between fork and exec; at the end every process of that uid is killed.
- ``rlimits`` (not root, no ``bwrap``): the child runs as the server's own user under a
  subreaper (``reaper.py``) that kills whatever it started, ``setsid`` or not.

All add rlimits (CPU, memory, processes, file size, open files, no core files). A worker
running as root never runs user code as root: RLIMIT_NPROC is not enforced for root, and a
root child could signal and read the server. The fresh uid (one per run, no passwd entry
needed) can neither; outside bubblewrap it needs an interpreter that other users can run.
"""

from __future__ import annotations

import ctypes
import os
import resource
import secrets
import shutil
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from turbocat_core.agents.failures import AgentFailure

SAFE_PATH: Final = "/usr/local/bin:/usr/bin:/bin"
TASK_BUDGET: Final = 64
"""Processes and threads a child may add (node alone starts about a dozen threads)."""
FILE_SIZE_BYTES: Final = 64 * 1024 * 1024
OPEN_FILES: Final = 256
NODE_MIN_DATA_MB: Final = 64
"""Below about 48 MiB of RLIMIT_DATA node hangs while starting instead of failing."""
UID_RANGE: Final = (2_000_000_000, 2_100_000_000)
"""Where per-run uids come from when the worker runs as root (far above real accounts)."""
SYSTEM_DIRS: Final = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES: Final = ("/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime", "/etc/ssl")
"""Read by the dynamic loader and node (OpenSSL reads its config at start)."""
NAMESPACES: Final = ("--pid", "--fork", "--kill-child", "--mount-proc", "--net", "--ipc", "--uts")
"""``unshare`` flags: ``--kill-child`` ends the namespace's init when ``unshare`` dies."""
INIT: Final = '"$@"; exit $?'
"""``sh -c`` as the pid namespace's init: the program runs as pid 2, where signals (its own
SIGKILL, SIGXCPU) act as usual (an init ignores those it has no handler for)."""
PR_SET_PDEATHSIG: Final = 1
PR_SET_NO_NEW_PRIVS: Final = 38
_LIBC = ctypes.CDLL(None, use_errno=True)


class Isolation(StrEnum):
    BUBBLEWRAP = "bubblewrap"
    NAMESPACES = "namespaces"
    UID = "uid"
    RLIMITS = "rlimits"


@dataclass(frozen=True, slots=True)
class Runtime:
    """An interpreter: its real path, the argv prefix for a program, and its install prefix."""

    name: str
    executable: str
    prefix: str

    def argv(self, program: str, memory_mb: int) -> list[str]:
        if self.name == "python":
            return [self.executable, "-I", "-c", program]
        # V8 throws a clean "heap out of memory" before RLIMIT_DATA would abort it.
        heap = max(16, memory_mb * 3 // 4)
        return [self.executable, f"--max-old-space-size={heap}", "-e", program]


def find_runtime(name: str, *, shared: bool = False) -> Runtime:
    """The interpreter for ``python`` (this one) or ``node`` (from PATH); ``AgentFailure``.

    ``shared``: the child runs as another uid without bubblewrap, so the interpreter must be
    one that any user can run: this one or ``PATH``'s if so, else the first on ``SAFE_PATH``
    that is (``/usr/bin/python3`` when this one lives under ``/root``).
    """
    if name == "python":
        own = Runtime(name, os.path.realpath(sys.executable), os.path.realpath(sys.base_prefix))
        found = [own.executable, shutil.which("python3", path=SAFE_PATH)]
    elif name == "node":
        found = [shutil.which("node"), shutil.which("node", path=SAFE_PATH)]
        if not any(found):
            raise AgentFailure("node is not installed on this worker", retryable=False)
    else:
        raise AgentFailure(f"unknown CODE runtime {name!r}", retryable=False)
    paths = [os.path.realpath(path) for path in found if path]
    if shared:
        paths = [path for path in paths if world_reachable(path)]
        if not paths:
            raise AgentFailure(
                f"no {name} interpreter here can be run by another user, and CODE never runs "
                "as root: install bubblewrap, or a system "
                f"{'python3' if name == 'python' else 'node'} under /usr",
                retryable=False,
            )
    if name == "python" and paths[0] == own.executable:
        return own
    return Runtime(name, paths[0], str(Path(paths[0]).parent.parent))


@dataclass(frozen=True, slots=True)
class Limits:
    cpu_seconds: int
    memory_bytes: int
    memory_kind: int
    """RLIMIT_AS for Python; RLIMIT_DATA for node, whose V8 reserves gigabytes of address
    space up front (it cannot start under an RLIMIT_AS below about 1 GiB)."""
    tasks: int | None
    """RLIMIT_NPROC, or None where it cannot hold (root without a uid to switch to)."""

    def apply(self) -> None:
        """Set the limits: runs in the child between fork and exec (``preexec_fn``)."""
        setrlimit = resource.setrlimit
        setrlimit(resource.RLIMIT_CPU, (self.cpu_seconds, self.cpu_seconds + 1))
        setrlimit(self.memory_kind, (self.memory_bytes, self.memory_bytes))
        setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_BYTES, FILE_SIZE_BYTES))
        setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))
        setrlimit(resource.RLIMIT_CORE, (0, 0))
        if self.tasks is not None:
            setrlimit(resource.RLIMIT_NPROC, (self.tasks, self.tasks))


@dataclass(frozen=True, slots=True)
class ChildSetup:
    """What the child does between fork and exec (``preexec_fn``): the rlimits, a signal
    when the runner dies, and (``uid``) the switch to that uid, with no groups and no way to
    gain privileges again (setuid programs). Done here, not through ``Popen(user=...)``,
    which uvloop's subprocess API refuses."""

    limits: Limits
    death_signal: int = signal.SIGKILL
    uid: int | None = None

    def __call__(self) -> None:
        self.limits.apply()
        if self.uid is not None:
            if _LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
            os.setgroups([])
            os.setgid(self.uid)
            os.setuid(self.uid)
        # After the switch, which clears it.
        _LIBC.prctl(PR_SET_PDEATHSIG, self.death_signal, 0, 0, 0)


def limits_for(
    runtime: Runtime, timeout_seconds: float, memory_mb: int, tasks: int | None
) -> Limits:
    if runtime.name == "node":
        kind, mb = resource.RLIMIT_DATA, max(memory_mb, NODE_MIN_DATA_MB)
    else:
        kind, mb = resource.RLIMIT_AS, memory_mb
    cpu = int(timeout_seconds) + 1
    return Limits(cpu, mb * 1024 * 1024, kind, tasks)


def fresh_uid() -> int:
    return UID_RANGE[0] + secrets.randbelow(UID_RANGE[1] - UID_RANGE[0])


def world_reachable(path: str) -> bool:
    """Whether a user with no relation to the file's owner can execute ``path``."""
    current = Path(path)
    try:
        if not current.stat().st_mode & 0o001:
            return False
        return all(parent.stat().st_mode & 0o001 for parent in current.parents)
    except OSError:
        return False


def child_env(home: str) -> dict[str, str]:
    """The whole environment of a child: nothing from the server's."""
    return {"PATH": SAFE_PATH, "LANG": "C.UTF-8", "HOME": home}


def _ancestors(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return [str(Path("/", *parts[: index + 1])) for index in range(len(parts))]


def bubblewrap_argv(
    bwrap: str,
    runtime: Runtime,
    workdir: str,
    command: Sequence[str],
    *,
    uid: int | None,
    setpriv: str | None,
) -> list[str]:
    """``bwrap ... -- command``: the system read-only, ``workdir`` the only writable place, no
    network, a new pid namespace that dies with the runner, and (``uid``) the command run as
    that uid through ``setpriv``, which needs bwrap to run without a user namespace (as root)."""
    argv = [bwrap, "--die-with-parent", "--new-session"]
    if uid is None:
        argv += ["--unshare-all"]
    else:
        # No user namespace: a uid switch inside one could only map to root again.
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        argv += ["--unshare-cgroup-try", "--cap-drop", "ALL"]
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    argv += ["--ro-bind", "/usr", "/usr"]
    for name in SYSTEM_DIRS:
        if os.path.islink(name):
            argv += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            argv += ["--ro-bind", name, name]
    argv += ["--perms", "0755", "--dir", "/etc"]
    for name in ETC_FILES:
        argv += ["--ro-bind-try", name, name]
    made: set[str] = {"/", "/usr", "/etc", *SYSTEM_DIRS}
    binds: list[tuple[str, str]] = []
    if not runtime.prefix.startswith("/usr/"):
        binds.append(("--ro-bind", runtime.prefix))
    binds.append(("--bind", workdir))
    for flag, path in binds:
        # bwrap makes missing parents 0700: a switched uid could not reach the bind below.
        for parent in _ancestors(path + "/x"):
            if parent not in made and parent != path:
                argv += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        argv += [flag, path, path]
    argv += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/", "--chdir", workdir]
    if uid is not None and setpriv is not None:
        argv += [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs"]
        argv += ["--"]
    return [*argv, *command]


def namespaces_argv(unshare: str, setpriv: str, uid: int, command: Sequence[str]) -> list[str]:
    """``unshare ... setpriv ... sh -c INIT sh command``: new pid, mount, network, IPC and UTS
    namespaces (``unshare`` runs as root), then ``uid`` with no groups and no new privileges,
    and ``sh`` as the namespace's init, killed with ``unshare``; its exit ends the rest."""
    switch = [f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs"]
    # The uid switch clears the parent-death signal --kill-child set: set it again after.
    switch += ["--pdeathsig", "KILL"]
    return [
        unshare,
        *NAMESPACES,
        "--",
        setpriv,
        *switch,
        "--",
        "/bin/sh",
        "-c",
        INIT,
        "sh",
        *command,
    ]
