"""A `turbocat` process whose stderr the test reads as it comes, to act on a line (a state)
rather than after a time: send Ctrl-C once it has printed something, then read the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
IMPORTED = "import time:"
"""``python -X importtime`` prints one such line as each module's import ends: with it, a
test can act at a given point of the start-up (:meth:`Turbocat.wait_for_import`)."""


class Turbocat:
    """``python [-X importtime] -m turbocat_cli ARGS`` in a session of its own (a terminal's
    Ctrl-C reaches its whole process group: :meth:`interrupt` does the same)."""

    def __init__(
        self, *args: str, env: dict[str, str] | None = None, importtime: bool = False
    ) -> None:
        flags = ["-X", "importtime"] if importtime else []
        self.process = subprocess.Popen(
            [sys.executable, *flags, "-m", "turbocat_cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**(env or os.environ), "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._arrived = threading.Condition()
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str], into: list[str]) -> None:
        for line in stream:
            with self._arrived:
                into.append(line)
                self._arrived.notify_all()
        with self._arrived:
            self._arrived.notify_all()

    def wait_for(self, text: str, *, after: int = 0, timeout: float = 120) -> int:
        """Wait until a line of stderr (past the first ``after``) holds ``text``; the count
        of lines up to it."""
        return self.wait_until(lambda line: text in line, repr(text), after=after, timeout=timeout)

    def wait_for_import(self, module: str, *, after: int = 0, timeout: float = 120) -> int:
        """Wait until the process has imported ``module`` (``importtime=True``)."""
        return self.wait_until(
            lambda line: line.startswith(IMPORTED) and line.rstrip().endswith(f" {module}"),
            f"the import of {module}",
            after=after,
            timeout=timeout,
        )

    def wait_until(
        self, found: Callable[[str], bool], what: str, *, after: int = 0, timeout: float = 120
    ) -> int:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for index in range(after, len(self.err)):
                    if found(self.err[index]):
                        return index + 1
                if self.process.poll() is not None and not any(r.is_alive() for r in self._readers):
                    raise AssertionError(f"exited {self.process.returncode} first: {self.stderr}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} on stderr in {timeout} s: {self.stderr}")
                self._arrived.wait(min(left, 0.5))

    def interrupt(self, sig: int = signal.SIGINT) -> None:
        os.killpg(self.process.pid, sig)

    def finish(self, timeout: float = 120) -> int:
        """Wait for the end (killed, and a failure, after ``timeout``); the exit code."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise AssertionError(f"still running {timeout} s later: {self.stderr}") from None
        for reader in self._readers:
            reader.join(timeout)
        return code

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    @property
    def stderr(self) -> str:
        """Stderr without the ``-X importtime`` lines."""
        return "".join(line for line in self.err if not line.startswith(IMPORTED))

    def stderr_after(self, count: int) -> list[str]:
        """The lines of stderr after the first ``count`` (import-time lines left out)."""
        return [line.rstrip("\n") for line in self.err[count:] if not line.startswith(IMPORTED)]
