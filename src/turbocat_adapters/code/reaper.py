"""Ending every process a CODE run started: a sweep by uid, or a subreaper around the child."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from typing import Final

SWEEP_SECONDS: Final = 5.0
SWEEP_POLL_SECONDS: Final = 0.01

REAPER: Final = r"""
import ctypes, os, signal, sys, time
child = 0
def stop(*_):
    if child > 0:
        os.kill(child, signal.SIGKILL)
signal.signal(signal.SIGTERM, stop)
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans come back here
child = os.fork()
if child == 0:
    try:
        os.execv(sys.argv[1], sys.argv[1:])
    except OSError as error:
        sys.stderr.write(f"cannot start {sys.argv[1]}: {error}\n")
    os._exit(127)
status = os.waitpid(child, 0)[1]
signal.signal(signal.SIGTERM, signal.SIG_IGN)
def descendants():
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as file:
                    parent = int(file.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(name))
    found, todo = [], [os.getpid()]
    while todo:
        for pid in children.get(todo.pop(), ()):
            found.append(pid)
            todo.append(pid)
    return found
while True:
    for pid in descendants():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        break
    time.sleep(0.005)
code = os.waitstatus_to_exitcode(status)
if code < 0:
    if -code not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
    code = 128 - code
os._exit(code)
"""
"""Runs ``argv[1:]`` as its child and, once that ends (or on SIGTERM, which kills it), kills
every descendant left, ``setsid`` or not: as a subreaper it inherits each orphan, so it is
done when it has no child left. It ends as its child did (the same exit code or signal)."""


def reaper_argv(command: list[str]) -> list[str]:
    """``command`` under the reaper (run by this interpreter, with no site packages)."""
    return [sys.executable, "-I", "-S", "-c", REAPER, *command]


def _tasks() -> Iterator[tuple[int, int, str, int]]:
    """(pid, real uid, state, threads) of every process now."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", encoding="ascii", errors="replace") as file:
                status = file.read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        real_uid = fields.get("Uid", "").split()
        state = fields.get("State", "?").strip()[:1]
        if real_uid:
            threads = int(fields.get("Threads", "1").strip() or 1)
            yield int(entry.name), int(real_uid[0]), state, threads


def tasks_of(uid: int) -> int:
    """How many tasks (processes and threads) ``uid`` runs now: what RLIMIT_NPROC counts."""
    return sum(threads for _, real_uid, _, threads in _tasks() if real_uid == uid)


def processes_of(uid: int) -> list[int]:
    """The live (not zombie) processes whose real uid is ``uid``."""
    return [pid for pid, real_uid, state, _ in _tasks() if real_uid == uid and state != "Z"]


def kill_uid(uid: int, within: float = SWEEP_SECONDS) -> list[int]:
    """SIGKILL every process of ``uid`` until none is left (a process may fork while it is
    swept: its child is found on the next pass); what is still alive after ``within`` s."""
    deadline = time.monotonic() + within
    while (left := processes_of(uid)) and time.monotonic() < deadline:
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(SWEEP_POLL_SECONDS)
    return left
