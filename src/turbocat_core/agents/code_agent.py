"""The CODE agent's executor: user code in a child process, through the ``CodeRunner`` port.

The contract (docs/agents.md, "CODE agent"):

- The child gets ``json(code) + "\\n" + json(inputs)`` on stdin; a small bootstrap (below)
  reads it, binds ``inputs`` and runs the code. Python: ``sys.stdin`` is then a text stream
  of the inputs' JSON. Node: the code is the body of an ``async`` function of ``inputs``,
  ``require``, ``module`` and ``exports`` (top-level ``await`` works).
- The result, first match wins: Python, a global named ``result`` once the code finished
  (``sys.exit(0)`` counts as finishing); Node, the value the code ``return``s, else a
  top-level variable named ``result``, else ``module.exports`` if the code set it; then, for
  both, the last stdout line that parses as JSON; else ``null``. The bootstrap prints an
  explicit result as one marked line, which is removed from the ``stdout`` shown.
- Output ``{result, stdout, stderr, exitCode, durationMs, isolation}``; stdout and stderr are
  capped (64 KiB each, a last line says how much was cut).
- A non-zero exit fails the step (kind ``error``) and a wall-clock timeout too (kind
  ``timeout``), each with the last lines of stderr in the message.
"""

from __future__ import annotations

import json
import math
import signal
from collections.abc import Callable
from typing import Any, Final

from turbocat_core.agents.configs import CODE_MEMORY_MB, check_code_config
from turbocat_core.agents.contract import RunContext
from turbocat_core.agents.failures import AgentFailure, FailureKind
from turbocat_core.domain.agent import Agent
from turbocat_core.domain.common import JsonObject
from turbocat_core.errors import ValidationFailed
from turbocat_core.ports.agents import CodeRequest, CodeResult, CodeRunner

DEFAULT_TIMEOUT_SECONDS: Final = 30.0
DEFAULT_MEMORY_MB: Final = 256
OUTPUT_CAP: Final = 64 * 1024
STDERR_LINES: Final = 5
RESULT_MARK: Final = "\x1e\x1eturbocat-result:"
"""Starts the line a bootstrap prints an explicit result on (record separators: never typed)."""

PYTHON_BOOTSTRAP: Final = f"""\
import io, json, sys, traceback
def _turbocat_main():
    head, _, text = sys.stdin.buffer.read().decode("utf-8").partition("\\n")
    code = json.loads(head)
    sys.stdin = io.StringIO(text)
    scope = {{"__name__": "__main__", "__builtins__": __builtins__,
              "inputs": json.loads(text) if text.strip() else None}}
    try:
        exec(compile(code, "<code>", "exec"), scope)
    except SystemExit as stop:
        if stop.code not in (None, 0):
            raise
    except BaseException as error:
        traceback.print_exception(type(error), error, error.__traceback__.tb_next)
        sys.exit(1)
    if "result" in scope:
        try:
            line = json.dumps(scope["result"], ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as error:
            sys.stderr.write(f"result is not JSON: {{error}}\\n")
            sys.exit(1)
        sys.stdout.flush()
        sys.stdout.write({RESULT_MARK!r} + line + "\\n")
_turbocat_main()
"""

NODE_BOOTSTRAP: Final = f"""\
const raw = require("fs").readFileSync(0, "utf8");
const nl = raw.indexOf("\\n");
const code = JSON.parse(raw.slice(0, nl));
const text = raw.slice(nl + 1);
const inputs = text.trim() ? JSON.parse(text) : null;
const none = Symbol("none");
const mod = {{ exports: {{}} }};
const initial = mod.exports;
const fail = (error) => {{
  // The message and the user code's frames, not the bootstrap's or node's own.
  const lines = String(error && error.stack ? error.stack : error).split("\\n");
  const frame = /^\\s+at /;
  const user = /eval at <anonymous> \\(\\[eval\\]:\\d+:\\d+\\), <anonymous>:(\\d+):/;
  console.error(lines
    .filter((l) => !frame.test(l) || l.includes("<anonymous>:"))
    .map((l) => l.replace(user, (_, n) => `<code>:${{n - 2}}:`))  // the function header
    .join("\\n"));
  process.exitCode = 1;
}};
let fn;
try {{
  fn = new (async () => {{}}).constructor(
    "inputs", "require", "module", "exports", "__turbocat_none",
    code + "\\n;return typeof result === 'undefined' ? __turbocat_none : result;");
}} catch (error) {{ fail(error); }}
if (fn) fn(inputs, require, mod, mod.exports, none).then((value) => {{
  let out = value;
  if (value === none || value === undefined) {{
    out = mod.exports !== initial || Object.keys(mod.exports).length ? mod.exports : none;
  }}
  if (out === none) return;
  const line = JSON.stringify(out);
  if (line !== undefined) process.stdout.write({json.dumps(RESULT_MARK)} + line + "\\n");
}}, fail).catch(fail);
"""

BOOTSTRAPS: Final = {"python": PYTHON_BOOTSTRAP, "node": NODE_BOOTSTRAP}


class CodeAgent:
    """Runs CODE agents with a ``CodeRunner`` (which owns the process, limits and isolation)."""

    def __init__(self, runner: CodeRunner, *, output_cap: int = OUTPUT_CAP) -> None:
        self.runner = runner
        self.output_cap = output_cap

    def check_config(self, config: JsonObject) -> None:
        check_code_config(config)

    async def execute(
        self, agent: Agent, config: JsonObject, inputs: JsonObject, ctx: RunContext
    ) -> Any:
        try:
            check_code_config(config, allow_refs=False)
        except ValidationFailed as error:
            raise AgentFailure(str(error), retryable=False) from None
        runtime = config["runtime"]
        timeout = float(config.get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS))
        try:
            payload = json.dumps(inputs, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise AgentFailure(f"CODE inputs are not JSON: {error}", retryable=False) from None
        stdin = (json.dumps(config["code"]) + "\n" + payload).encode("utf-8", "surrogatepass")
        result = await self.runner.run(
            CodeRequest(
                runtime=runtime,
                program=BOOTSTRAPS[runtime],
                stdin=stdin,
                timeout_seconds=timeout,
                memory_mb=_memory_mb(agent, config),
                output_cap=self.output_cap,
            )
        )
        if result.timed_out:
            raise AgentFailure(
                f"code timed out after {timeout:g} s (wall clock){_stderr_hint(result)}",
                kind=FailureKind.TIMEOUT,
            )
        if result.exit_code != 0:
            raise AgentFailure(f"code {_exit_reason(result.exit_code)}{_stderr_hint(result)}")
        return {
            "result": parse_result(result.stdout_tail),
            "stdout": _shown(result.stdout, result.stdout_bytes, "stdout", _without_mark),
            "stderr": _shown(result.stderr, result.stderr_bytes, "stderr"),
            "exitCode": result.exit_code,
            "durationMs": math.ceil(result.duration_ms),
            "isolation": result.isolation,
        }


def _memory_mb(agent: Agent, config: JsonObject) -> int:
    """``memoryMb``, else the agent's ``maxMemoryMb`` (within the CODE range)."""
    if "memoryMb" in config:
        return int(config["memoryMb"])
    low, high = CODE_MEMORY_MB
    return max(low, min(high, int(getattr(agent, "max_memory_mb", DEFAULT_MEMORY_MB))))


def parse_result(stdout: str) -> Any:
    """The explicit (marked) result, else the last stdout line that parses as JSON, else None."""
    marked = stdout.rfind(RESULT_MARK)
    if marked >= 0:
        line = stdout[marked + len(RESULT_MARK) :].split("\n", 1)[0]
        try:
            return json.loads(line)
        except ValueError:
            pass  # cut by the tail buffer: fall back to the plain lines
    for line in reversed(_without_mark(stdout).splitlines()):
        if not line.strip():
            continue
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


def _without_mark(stdout: str) -> str:
    marked = stdout.rfind(RESULT_MARK)
    if marked < 0:
        return stdout
    end = stdout.find("\n", marked)
    return stdout[:marked] + ("" if end < 0 else stdout[end + 1 :])


def _shown(text: str, total: int, name: str, clean: Callable[[str], str] = str) -> str:
    kept = len(text.encode("utf-8", "replace"))
    if total <= kept:
        return clean(text)
    return f"{clean(text)}\n[{name} truncated: {total} bytes, the first {kept} shown]"


def _exit_reason(code: int) -> str:
    if code >= 0:
        return f"exited with status {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    why = {
        "SIGKILL": " (memory or process limit, or killed)",
        "SIGXCPU": " (CPU time limit)",
        "SIGXFSZ": " (file size limit)",
        "SIGABRT": " (aborted: often out of memory)",
        "SIGSEGV": " (crashed: often out of memory)",
    }.get(name, "")
    return f"was killed by {name}{why}"


def _stderr_hint(result: CodeResult) -> str:
    lines = [line for line in result.stderr_tail.splitlines() if line.strip()]
    if not lines:
        return ""
    return ": " + "\n".join(lines[-STDERR_LINES:])
