"""Run the shell blocks of a documentation page as a reader pastes them: in order, in one bash
process, stopping at the first command that fails.

The conventions a page follows (its top comment says so too):

- ```` ```sh ```` and ```` ```bash ```` blocks run; other languages are read, not run.
- ``<!-- not run -->`` right above a block leaves it out (an install, a command that runs
  until Ctrl-C).
- ``<!-- file: NAME -->`` above a block: the reader saves it as ``NAME``; the test writes it
  into the working directory before anything runs.
- ``<!-- background -->`` above a shell block: the reader runs it in a shell of its own (a
  server); the test starts it in the background and waits until ``/health/ready`` answers.
- Every ``curl`` fails on an error status (``curl -fsS``), except the command right under a
  ``# expect: NNN`` comment line: it must answer exactly that status.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.docs.pages import Block

SHELLS = ("sh", "bash")
TOOLS = ("bash", "curl", "jq", "openssl")
MARKERS = ("not run", "file", "background")
EXPECT = re.compile(r"^\s*# expect: (\d{3})\b")
CURL = re.compile(r"(?:^|[\s(|;&])curl\s")
FAILING_CURL = re.compile(r"(?:^|[\s(|;&])curl\s+-[A-Za-z]*f")

PRELUDE = r"""
set -euo pipefail
trap 'echo "FAILED at $WHERE: $BASH_COMMAND" >&2' ERR
# curl, answering the status announced by the page (its body printed, as curl prints it).
expect() {
  local want=$1 out code
  shift
  out=$("$@" -w '\n%{http_code}')
  code=${out##*$'\n'}
  printf '%s\n' "${out%$'\n'*}"
  if [ "$code" != "$want" ]; then
    echo "expected HTTP $want, got $code" >&2
    return 1
  fi
}
ready() {
  until curl -fsS -o /dev/null "http://127.0.0.1:$TURBOCAT_PORT/health/ready" 2>/dev/null; do
    sleep 0.1
  done
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def runnable(blocks: Iterable[Block]) -> list[Block]:
    return [b for b in blocks if b.language in SHELLS and b.marker not in ("not run", "file")]


def unannounced_curls(block: Block) -> list[str]:
    """Lines of the block calling ``curl`` without ``-f`` and without ``# expect:`` above."""
    found, announced = [], False
    for line in block.text.splitlines():
        if EXPECT.match(line):
            announced = True
            continue
        if CURL.search(line) and not line.lstrip().startswith("#"):
            if not announced and not FAILING_CURL.search(line):
                found.append(f"{block.where}: {line.strip()}")
            announced = False
    return found


def _announced(text: str, where: str) -> str:
    """The block with each command under ``# expect: NNN`` run through ``expect NNN``."""
    lines, want = [], None
    for line in text.splitlines():
        if (match := EXPECT.match(line)) is not None:
            want = match.group(1)
        elif want is not None and line.strip() and not line.lstrip().startswith("#"):
            assert line.lstrip().startswith("curl "), f"{where}: # expect: over {line!r}"
            indent = line[: len(line) - len(line.lstrip())]
            line, want = f"{indent}expect {want} {line.lstrip()}", None
        lines.append(line)
    return "\n".join(lines) + "\n"


def script(blocks: Iterable[Block]) -> str:
    parts = [PRELUDE]
    for block in runnable(blocks):
        parts.append(f"WHERE={shlex.quote(block.where)}\n")
        text = _announced(block.text, block.where)
        if block.marker == "background":
            parts.append(f"{{\n{text}}} > background-{block.line}.log 2>&1 &\nready\n")
        else:
            parts.append(text)
    return "".join(parts)


def write_files(blocks: Iterable[Block], cwd: Path) -> None:
    for block in blocks:
        if block.marker == "file":
            (cwd / str(block.argument)).write_text(block.text)


def run_page(blocks: list[Block], cwd: Path, timeout: float = 300, **env: str) -> str:
    """Run the page's shell blocks in ``cwd``; what they printed (stdout and stderr)."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing and os.environ.get("CI") != "true":
        pytest.skip(f"the page needs {', '.join(missing)} (.ci/run installs them)")
    assert not missing, f"the page needs {', '.join(missing)}"
    write_files(blocks, cwd)
    (cwd / "page.sh").write_text(script(blocks))
    bin_dir = str(Path(sys.executable).parent)  # `turbocat`, as the reader's venv has it
    base = {k: v for k, v in os.environ.items() if not k.startswith("TURBOCAT_")}
    environment = {**base, "PATH": f"{bin_dir}:{base.get('PATH', '')}", **env}
    process = subprocess.Popen(
        ["bash", "page.sh"],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its background server goes with it
    )
    try:
        printed, _ = process.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0, f"the page failed (exit {process.returncode}):\n{printed}"
    return printed
