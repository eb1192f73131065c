"""An ``LlmClient`` over httpx: the request, retries on 429 and 5xx, errors as ``AgentFailure``."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Final

import httpx

from turbocat_adapters.http.transport import GuardedNetwork, reached_internal
from turbocat_adapters.llm.wire import (
    Call,
    anthropic_call,
    error_message,
    openai_call,
    parse_anthropic,
    parse_openai,
)
from turbocat_core.agents.failures import INTERNAL_BODY, AgentFailure, FailureKind
from turbocat_core.ports.agents import LlmRequest, LlmResponse

OPENAI_BASE_URL: Final = "https://api.openai.com"
ANTHROPIC_BASE_URL: Final = "https://api.anthropic.com"
DEFAULT_TIMEOUT_SECONDS: Final = 120.0
DEFAULT_RETRIES: Final = 3
DEFAULT_BACKOFF_SECONDS: Final = 1.0
MAX_WAIT_SECONDS: Final = 60.0
"""The longest one wait between attempts, whatever ``Retry-After`` asks for."""
MAX_RESPONSE_BYTES: Final = 16 * 1024 * 1024
MAX_MESSAGE_CHARS: Final = 500

# Key-looking text (sk-..., sk-ant-..., sk-proj-...), even partly masked by the provider.
_KEYLIKE: Final = re.compile(r"\bsk-[A-Za-z0-9_*.\-]{4,}")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: httpx.Headers
    body: bytes
    internal: bool
    """From a non-public address (allowed by the operator): its body is never quoted."""


def retry_after(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds the server asks to wait: ``retry-after-ms``, or ``Retry-After`` as seconds or
    an HTTP date; ``None`` when absent or unreadable."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def scrub(message: str, secret: str | None) -> str:
    """``message`` without the key (or anything that looks like one), at most 500 chars."""
    if secret:
        message = message.replace(secret, "********")
    message = _KEYLIKE.sub("sk-********", message)
    return message if len(message) <= MAX_MESSAGE_CHARS else message[:MAX_MESSAGE_CHARS] + "…"


def _detail(body: bytes) -> str:
    """What a failed answer says: the provider's error message, else the start of its text."""
    try:
        message = error_message(json.loads(body))
    except ValueError:
        message = None
    if message is not None:
        return message
    text = " ".join(body.decode("utf-8", "replace").split())
    return text[:200] if text else "no details"


class HttpLlmClient:
    """Speaks OpenAI Chat Completions (``openai``, ``openai-compatible``) and Anthropic
    Messages (``anthropic``) over HTTP(S), through the SSRF guard.

    Every request goes through ``network`` (the container's, shared with API agents): a
    config's ``baseUrl`` reaches only what the guard allows (a local model server once the
    operator lists it in ``TURBOCAT_HTTP_ALLOWED_HOSTS``). The operator's own endpoints
    (``openai_base_url``, ``anthropic_base_url``, used when a request has no ``base_url``)
    are trusted: their hosts pass the guard whatever their address.

    A 429 or 5xx answer is tried again up to ``retries`` times, after the server's
    ``Retry-After`` or an exponential backoff with jitter, never longer than ``max_wait``
    seconds at once. Each attempt has ``timeout`` seconds. One httpx client per call: the
    client is shared by runs on different event loops (each CLI command and RQ job has its
    own), and a model's answer takes far longer than a new connection. A failed answer's
    message is quoted in the failure, except from a non-public address reached through a
    ``baseUrl``: an internal service's answer never reaches a step's error.
    """

    def __init__(
        self,
        *,
        openai_base_url: str = OPENAI_BASE_URL,
        anthropic_base_url: str = ANTHROPIC_BASE_URL,
        network: GuardedNetwork | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF_SECONDS,
        max_wait: float = MAX_WAIT_SECONDS,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.openai_base_url = openai_base_url
        self.anthropic_base_url = anthropic_base_url
        self.network = network if network is not None else GuardedNetwork.build()
        self._operator = self.network.trusting((openai_base_url, anthropic_base_url))
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self._sleep = sleep

    async def complete(self, request: LlmRequest) -> LlmResponse:
        # A base URL a user typed goes through the guard; the operator's own ones are trusted.
        network = self.network if request.base_url else self._operator
        key = request.api_key
        if request.provider == "anthropic":
            call = anthropic_call(request, request.base_url or self.anthropic_base_url)
            data = await self._send(call, key, network)
            return parse_anthropic(call.label, data, request.model)
        if request.provider in ("openai", "openai-compatible"):
            call = openai_call(request, request.base_url or self.openai_base_url)
            return parse_openai(call.label, await self._send(call, key, network), request.model)
        raise AgentFailure(f"unknown LLM provider {request.provider!r}", retryable=False)

    async def _send(self, call: Call, key: str | None, network: GuardedNetwork) -> Any:
        """The decoded JSON of a 2xx answer, after retries; ``AgentFailure`` otherwise (the
        guard's own, unchanged, for a refused address)."""
        attempt = 0
        async with httpx.AsyncClient(
            timeout=self.timeout,
            follow_redirects=False,
            transport=network.transport(),
            trust_env=False,
        ) as client:
            while True:
                attempt += 1
                answer = await self._post(client, call, key)
                if 200 <= answer.status < 300:
                    try:
                        return json.loads(answer.body)
                    except ValueError:
                        raise AgentFailure(
                            f"{call.label} answered HTTP {answer.status} with a body that is "
                            "not JSON"
                        ) from None
                trusted = network is self._operator
                failure = self._failure(call, answer, key, attempt, quote=trusted)
                if failure.kind is FailureKind.ERROR or attempt > self.retries:
                    raise failure
                await self._sleep(self._wait(answer.headers, attempt))

    async def _post(self, client: httpx.AsyncClient, call: Call, key: str | None) -> _Answer:
        try:
            async with client.stream(
                "POST", call.url, headers=call.headers, json=call.body
            ) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise AgentFailure(
                            f"{call.label} sent more than {MAX_RESPONSE_BYTES} bytes",
                            retryable=False,
                        )
                    chunks.append(chunk)
                return _Answer(
                    response.status_code,
                    response.headers,
                    b"".join(chunks),
                    reached_internal(response),
                )
        except httpx.TimeoutException:
            raise AgentFailure(
                f"{call.label} did not answer within {self.timeout:g} s",
                kind=FailureKind.TIMEOUT,
            ) from None
        except httpx.HTTPError as error:
            reason = scrub(str(error) or type(error).__name__, key)
            raise AgentFailure(
                f"could not reach {call.label}: {reason}", kind=FailureKind.NETWORK
            ) from None

    def _failure(
        self, call: Call, answer: _Answer, key: str | None, attempt: int, *, quote: bool
    ) -> AgentFailure:
        """The failure a non-2xx answer is; its body is quoted only from a public address or
        the operator's own endpoint (``quote``)."""
        status = answer.status
        detail = INTERNAL_BODY if answer.internal and not quote else _detail(answer.body)
        tries = f" after {attempt} attempts" if attempt > 1 else ""
        message = scrub(f"{call.label} answered HTTP {status}{tries}: {detail}", key)
        if status == 429:
            return AgentFailure(message, kind=FailureKind.HTTP_429)
        if status >= 500:
            return AgentFailure(message, kind=FailureKind.HTTP_5XX)
        return AgentFailure(message, retryable=False)

    def _wait(self, headers: httpx.Headers, attempt: int) -> float:
        asked = retry_after(headers)
        if asked is None:
            nominal = self.backoff * 2 ** (attempt - 1)
            asked = nominal * random.uniform(0.5, 1.0)  # jitter: no thundering herd
        return min(asked, self.max_wait)
