"""The API agent's executor: one HTTP request (with retries) through the ``HttpClient`` port."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from turbocat_core.agents.configs import check_api_config
from turbocat_core.agents.contract import RunContext
from turbocat_core.agents.failures import INTERNAL_BODY, AgentFailure, FailureKind
from turbocat_core.domain.agent import Agent
from turbocat_core.domain.common import JsonObject
from turbocat_core.domain.execution import LogLevel
from turbocat_core.errors import ValidationFailed
from turbocat_core.ports.agents import HttpClient, HttpRequest, HttpResponse
from turbocat_core.ports.clock import Clock

DEFAULT_TIMEOUT_MS: Final = 30_000
DEFAULT_RETRY_COUNT: Final = 3
"""Retries when a ``retry`` object is given without ``count`` (no ``retry``: one attempt)."""
DEFAULT_RETRY_DELAY_MS: Final = 500
DEFAULT_RETRY_STATUSES: Final = (429, 500, 502, 503, 504)
MAX_RETRY_WAIT_SECONDS: Final = 60.0
"""Neither the exponential backoff nor a ``Retry-After`` makes one wait longer than this."""
DEFAULT_MAX_RESPONSE_BYTES: Final = 10 * 1024 * 1024
INPUT_KEYS: Final = ("headers", "query", "body")
SNIPPET_CHARS: Final = 200
USER_AGENT: Final = "turbocat-api-agent"
_MASK: Final = "********"


class ApiAgent:
    """Runs API agents: builds the request from the resolved config and the step inputs, sends
    it through ``http`` (which owns the SSRF guard, redirects and the size cap), retries what
    ``retry`` names, and returns ``{status, headers, body, durationMs}``.

    Inputs: ``headers`` and ``query`` are merged over the config's (a ``null`` value drops
    one), ``body`` is merged over an object ``body`` of the config (one level deep) and
    replaces any other; no other input key is accepted. Auth comes last and wins.

    Failures: a final answer of 400 or more fails the step (``http_429``, ``http_5xx``,
    ``timeout`` for 408, else ``error``, not retryable) with the status in the message; the
    port's failures (``timeout``, ``network``, a refused address) pass through.
    """

    def __init__(
        self,
        http: HttpClient,
        clock: Clock,
        *,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_retry_wait_seconds: float = MAX_RETRY_WAIT_SECONDS,
    ) -> None:
        self.http = http
        self.clock = clock
        self.max_response_bytes = max_response_bytes
        self.max_retry_wait_seconds = max_retry_wait_seconds

    def check_config(self, config: JsonObject) -> None:
        check_api_config(config)

    async def execute(
        self, agent: Agent, config: JsonObject, inputs: JsonObject, ctx: RunContext
    ) -> Any:
        try:
            check_api_config(config, allow_refs=False)
        except ValidationFailed as error:
            raise AgentFailure(error.message, retryable=False) from None
        request = build_request(
            config, inputs, max_response_bytes=self.max_response_bytes, name=agent.name
        )
        secrets = _secrets(config.get("auth"))
        target = f"{request.method} {safe_url(request.url)}"
        retry = config.get("retry")
        count, delay_ms, statuses = _retry_policy(retry if isinstance(retry, dict) else None)
        attempt = 1
        while True:
            response: HttpResponse | None = None
            try:
                response = await self.http.send(request)
            except AgentFailure as failure:
                if (
                    not failure.retryable
                    or failure.kind is not FailureKind.NETWORK
                    or attempt > count
                ):
                    raise
                wait = self._backoff(delay_ms, attempt)
                reason = f"failed ({failure.message})"
            else:
                if response.status not in statuses or attempt > count:
                    return _result(response, target, secrets)
                wait = self._retry_after(response) or self._backoff(delay_ms, attempt)
                reason = f"answered {response.status}"
            await ctx.log(
                LogLevel.WARN,
                f"{target} {_masked(reason, secrets)}; retry {attempt} of {count} "
                f"in {wait * 1000:.0f} ms",
                {
                    "attempt": attempt,
                    "retryInMs": round(wait * 1000),
                    **({"status": response.status} if response is not None else {}),
                },
            )
            await self.clock.sleep(wait)
            attempt += 1

    def _backoff(self, delay_ms: int, attempt: int) -> float:
        return float(min(self.max_retry_wait_seconds, delay_ms / 1000 * 2 ** (attempt - 1)))

    def _retry_after(self, response: HttpResponse) -> float | None:
        """``Retry-After`` (seconds or an HTTP date) of a 429 or 503, capped; else ``None``."""
        if response.status not in (429, 503):
            return None
        value = _header(response.headers, "retry-after")
        if value is None:
            return None
        value = value.strip()
        seconds: float
        if value.isdigit():
            seconds = float(value)
        else:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                return None
            if when.tzinfo is None:
                return None
            seconds = (when - self.clock.now()).total_seconds()
        return max(0.0, min(self.max_retry_wait_seconds, seconds))


# --- the request ------------------------------------------------------------------------


def build_request(
    config: JsonObject,
    inputs: JsonObject,
    *,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    name: str = "API",
) -> HttpRequest:
    """The request a resolved config and step inputs describe (``AgentFailure`` if the
    inputs are not usable: they are the step's, so retrying cannot help)."""
    unknown = sorted(key for key in inputs if key not in INPUT_KEYS)
    if unknown:
        raise AgentFailure(
            f"API agent {name!r} takes the inputs headers, query and body; "
            f"got {', '.join(unknown)}",
            retryable=False,
        )
    headers = _merged(config.get("headers"), inputs.get("headers"), "headers", fold=True)
    query = _merged(config.get("query"), inputs.get("query"), "query", fold=False)
    body_value = config.get("body")
    if "body" in inputs:
        extra = inputs["body"]
        if isinstance(body_value, dict) and isinstance(extra, dict):
            body_value = {**body_value, **extra}
        else:
            body_value = extra
    body: bytes | None = None
    if isinstance(body_value, str):
        body = body_value.encode("utf-8")
        headers.setdefault("content-type", ("Content-Type", "text/plain; charset=utf-8"))
    elif body_value is not None:
        body = json.dumps(body_value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers.setdefault("content-type", ("Content-Type", "application/json"))
    headers.setdefault("user-agent", ("User-Agent", USER_AGENT))
    auth = config.get("auth")
    if isinstance(auth, dict):
        _apply_auth(auth, headers, query)
    timeout_ms = config.get("timeoutMs", DEFAULT_TIMEOUT_MS)
    return HttpRequest(
        method=str(config.get("method", "GET")),
        url=str(config["url"]),
        headers=dict(headers.values()),
        query=dict(query.values()),
        body=body,
        timeout_seconds=timeout_ms / 1000,
        max_response_bytes=max_response_bytes,
    )


def _merged(base: Any, extra: Any, what: str, *, fold: bool) -> dict[str, tuple[str, str]]:
    """``base`` then ``extra`` as ``{key: (name, value)}``; header names compare without case."""
    merged: dict[str, tuple[str, str]] = {}
    for source, origin in ((base, "config"), (extra, "inputs")):
        if source is None:
            continue
        if not isinstance(source, dict):
            raise AgentFailure(
                f"{origin} {what} must be an object, got {type(source).__name__}",
                retryable=False,
            )
        for name, value in source.items():
            key = name.lower() if fold else name
            if value is None:
                merged.pop(key, None)
            elif isinstance(value, bool):
                merged[key] = (name, "true" if value else "false")
            elif isinstance(value, str | int | float):
                merged[key] = (name, str(value))
            else:
                raise AgentFailure(
                    f"{origin} {what}.{name} must be a string or a number, "
                    f"got {type(value).__name__}",
                    retryable=False,
                )
    return merged


def _apply_auth(
    auth: JsonObject, headers: dict[str, tuple[str, str]], query: dict[str, tuple[str, str]]
) -> None:
    kind = auth.get("type")
    if kind == "bearer":
        headers["authorization"] = ("Authorization", f"Bearer {auth['token']}")
    elif kind == "basic":
        pair = f"{auth['username']}:{auth['password']}".encode()
        headers["authorization"] = ("Authorization", f"Basic {base64.b64encode(pair).decode()}")
    elif kind == "apiKey":
        if auth.get("in") == "query":
            name = str(auth.get("header") or "api_key")
            query[name] = (name, str(auth["key"]))
        else:
            name = str(auth.get("header") or "X-API-Key")
            headers[name.lower()] = (name, str(auth["key"]))


def _retry_policy(retry: JsonObject | None) -> tuple[int, int, frozenset[int]]:
    """(retries, first delay in ms, statuses to retry); no ``retry`` object: no retries."""
    if retry is None:
        return 0, DEFAULT_RETRY_DELAY_MS, frozenset()
    statuses = retry.get("statusCodes")
    return (
        int(retry.get("count", DEFAULT_RETRY_COUNT)),
        int(retry.get("delayMs", DEFAULT_RETRY_DELAY_MS)),
        frozenset(statuses if isinstance(statuses, list) else DEFAULT_RETRY_STATUSES),
    )


# --- the answer ---------------------------------------------------------------------------


def _result(response: HttpResponse, target: str, secrets: tuple[str, ...]) -> JsonObject:
    """The step output for a final answer, or the failure a status of 400 or more is."""
    headers = {name.lower(): value for name, value in response.headers.items()}
    body = decode_body(response.body, headers.get("content-type"))
    status = response.status
    if status >= 400:
        try:
            phrase = f" {HTTPStatus(status).phrase}"
        except ValueError:
            phrase = ""
        if response.internal:  # an internal service's answer is not for the step's error
            message = f"{target} answered {status}{phrase} ({INTERNAL_BODY})"
        else:
            text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
            snippet = " ".join(text.split())[:SNIPPET_CHARS]
            message = f"{target} answered {status}{phrase}" + (f": {snippet}" if snippet else "")
        kind = _kind(status)
        # 429, 408 and 5xx may pass (the step's retryOn decides); another 4xx will not.
        raise AgentFailure(
            _masked(message, secrets), kind=kind, retryable=kind is not FailureKind.ERROR
        )
    return {
        "status": status,
        "headers": headers,
        "body": body,
        "durationMs": round(response.duration_ms, 1),
    }


def _kind(status: int) -> FailureKind:
    if status == 429:
        return FailureKind.HTTP_429
    if status >= 500:
        return FailureKind.HTTP_5XX
    if status == 408:
        return FailureKind.TIMEOUT
    return FailureKind.ERROR


def decode_body(raw: bytes, content_type: str | None) -> Any:
    """JSON when the media type says so (``application/json``, ``*+json``) and it parses;
    otherwise text in the declared charset (UTF-8 by default, bad bytes replaced)."""
    media, _, params = (content_type or "").partition(";")
    media = media.strip().lower()
    if media in ("application/json", "text/json") or media.endswith("+json"):
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            pass  # a server that mislabels its body: hand the text over as it came
    charset = "utf-8"
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
    try:
        return raw.decode(charset, errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


def safe_url(url: str) -> str:
    """``url`` without its user info, query and fragment: fit for logs and messages (an API
    key may travel in the query)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<invalid URL>"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _secrets(auth: Any) -> tuple[str, ...]:
    """The auth values a message must never show (an echoed header, say)."""
    if not isinstance(auth, dict):
        return ()
    values = [auth.get(key) for key in ("token", "password", "key")]
    found = [value for value in values if isinstance(value, str) and len(value) >= 4]
    if auth.get("type") == "basic" and isinstance(auth.get("username"), str):
        pair = f"{auth['username']}:{auth.get('password', '')}".encode()
        found.append(base64.b64encode(pair).decode())
    return tuple(found)


def _masked(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, _MASK)
    return text
