"""The ports agent executors do their I/O through: outbound HTTP, LLM providers, child processes.

Part of the core's ports (``turbocat_core.ports`` re-exports them); adapters implement them in
``turbocat_adapters.http``, ``.llm`` and ``.code``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    timeout_seconds: float = 30.0
    max_response_bytes: int = 10 * 1024 * 1024
    follow_redirects: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes
    duration_ms: float
    internal: bool = False
    """It came from a non-public address (one the SSRF guard let through because the
    operator allowed it): a failure message never quotes its body."""


class HttpClient(Protocol):
    """Outbound HTTP, with the SSRF guard; failures raise ``AgentFailure`` with a kind."""

    async def send(self, request: HttpRequest) -> HttpResponse: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class LlmRequest:
    """One prompt for one provider (``openai``, ``anthropic``, ``openai-compatible``).

    ``base_url`` ``None`` means the operator's endpoint for the provider. Options left at
    ``None`` (or an empty ``stop``) are not sent, so the provider's defaults apply.
    """

    provider: str
    model: str
    prompt: str
    system_prompt: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop: tuple[str, ...] = ()
    json_response: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class LlmResponse:
    text: str
    model: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int | None = None
    """As the provider reports it; ``None``: the sum of the other two."""


class LlmClient(Protocol):
    """One chat completion in a provider's own wire format.

    Raises ``AgentFailure`` with a kind: ``http_429`` and ``http_5xx`` once its own retries
    are spent, ``timeout``, ``network``; ``error`` (not retryable) for a refused request
    (400, 401, 403, 404...) with the provider's message. Messages never hold the API key.
    """

    async def complete(self, request: LlmRequest) -> LlmResponse: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeRequest:
    """One program to run: ``runtime`` (``python`` or ``node``) runs ``program`` (a small
    bootstrap, passed on the command line) with ``stdin`` on its standard input."""

    runtime: str
    program: str
    stdin: bytes
    timeout_seconds: float
    memory_mb: int
    output_cap: int = 64 * 1024
    """Bytes of stdout and of stderr kept from the start (what is shown)."""
    tail_bytes: int = 1024 * 1024
    """Bytes of stdout and of stderr kept from the end (where the result and errors are)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeResult:
    """What a program did. ``exit_code`` is negative when a signal ended it (-9: SIGKILL);
    ``stdout``/``stderr`` are the first ``output_cap`` bytes, ``*_tail`` the last
    ``tail_bytes``, ``*_bytes`` the totals; ``isolation`` names the level it ran under."""

    exit_code: int
    stdout: str
    stderr: str
    duration_ms: float
    timed_out: bool = False
    stdout_tail: str = ""
    stderr_tail: str = ""
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    isolation: str = "none"


class CodeRunner(Protocol):
    """Runs untrusted code in a constrained child process.

    ``run`` enforces the wall-clock timeout itself (``timed_out=True``, the child killed), kills
    everything the child started when it returns or is cancelled, and raises ``AgentFailure``
    (not retryable) when the runtime is not installed on this worker.
    """

    async def run(self, request: CodeRequest) -> CodeResult: ...
