"""The edge: what every HTTP exchange gets, routed or not (request id, security headers, HTTPS
redirect, early refusals, one log line), as one plain ASGI middleware around the whole app.

Litestar runs its own middleware only for requests that matched a route, so a 404, a 405 or
a CORS preflight would miss them; ``create_app`` therefore wraps ``app.asgi_handler`` (the
router inside Litestar's exception and CORS layers) in :class:`EdgeMiddleware`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol
from urllib.parse import quote

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from turbocat_adapters.log_context import span_ids
from turbocat_http.context import (
    REQUEST_ID_HEADER,
    accept_request_id,
    rate_limit,
    set_request_id,
    user_id,
)
from turbocat_http.errors import DEFAULT_MESSAGES, error_bytes
from turbocat_http.schemas import ErrorCode

logger = logging.getLogger("turbocat.http")

API_CSP: Final = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
"""A JSON API loads nothing, frames nothing and is framed by nobody."""

DOCS_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
"""The Swagger UI page: its scripts, styles and the spec from this server only (no inline
script, no CDN); ``data:`` images are the icons inside Swagger UI's stylesheet."""
DOCS_CSP_KEY: Final = "docs_csp"
"""Set in ``scope["state"]`` by :func:`use_docs_csp` for the docs page."""

HSTS: Final = "max-age=63072000; includeSubDomains"
HEALTH_PREFIX: Final = "/health"
MAX_LOGGED_PATH: Final = 512
UNMATCHED_ROUTE: Final = "unmatched"
"""The route of a request no route matched (a 404, or one the edge answered itself)."""


def use_docs_csp(scope: Scope) -> None:
    """Give this response the docs page's CSP (:data:`DOCS_CSP`) instead of the API's."""
    scope.setdefault("state", {})[DOCS_CSP_KEY] = True


class RequestObserver(Protocol):
    """Told of every HTTP request (metrics): when it arrives, and how it ended."""

    def begun(self) -> None: ...

    def ended(self, method: str, route: str, status: int, seconds: float) -> None:
        """``route`` is the matched route's path template (``/api/v1/agents/{agent_id}``),
        never the raw path, or ``UNMATCHED_ROUTE``."""


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    production: bool = False
    trust_proxy_headers: bool = False
    max_body_bytes: int = 10 * 1024 * 1024
    public_host: str = "localhost"
    """Where an HTTPS redirect points when the request has no usable ``Host``."""
    observers: Sequence[RequestObserver] = ()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _is_health(path: str) -> bool:
    return path == HEALTH_PREFIX or path.startswith(HEALTH_PREFIX + "/")


def _redirect_host(host: str | None, fallback: str) -> str:
    """The host name of ``Host`` without its port (the https port is the default one)."""
    if not host or not all(c.isalnum() or c in ".-:[]" for c in host):
        return fallback
    if host.startswith("["):  # an IPv6 literal
        return host[: host.find("]") + 1] if "]" in host else fallback
    return host.split(":", 1)[0] or fallback


class EdgeMiddleware:
    """See the module docstring. In order, for each HTTP request:

    1. the request id: the caller's valid ``X-Request-Id`` or a new UUID, into
       ``scope["state"]["request_id"]`` and the ``X-Request-Id`` response header;
    2. in production, plain http (the connection's scheme, or ``X-Forwarded-Proto`` only when
       ``trust_proxy_headers``) is redirected (308) to https, except ``/health*``;
    3. a URL with a NUL character is a 400, a ``Content-Length`` that is not a number a 400 and
       one above ``max_body_bytes`` a 413 (bodies sent without a length are counted by
       Litestar as they are read: ``request_max_body_size``);
    4. every response gets the security headers (CSP, nosniff, DENY, no-referrer; HSTS in
       production) unless the handler set its own CSP;
    5. one JSON log line on ``turbocat.http``: method, path (never the query string), status,
       duration_ms, request_id, user_id (from ``scope["state"]["user_id"]``) — no headers,
       no bodies;
    6. an exception escaping Litestar (it should not) becomes a bare 500 envelope;
    7. the ``observers`` (metrics) hear of its arrival and of its route, status and duration.
    """

    def __init__(self, app: ASGIApp, config: EdgeConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        observers = self.config.observers
        for observer in observers:
            observer.begun()
        rid = accept_request_id(scope.get("headers") or ())
        set_request_id(scope, rid)
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_started = True
                message["headers"] = self._headers(scope, rid, list(message.get("headers") or []))
            await send(message)

        try:
            refusal = self._refuse(scope)
            if refusal is not None:
                await _send_refusal(send_with_headers, *refusal)
            else:
                await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("request failed below the exception handler (request_id=%s)", rid)
            if response_started:
                raise
            await _send_json(
                send_with_headers,
                500,
                error_bytes(
                    ErrorCode.INTERNAL_ERROR, DEFAULT_MESSAGES[ErrorCode.INTERNAL_ERROR], rid
                ),
            )
        finally:
            seconds = time.perf_counter() - started
            self._log(scope, status, seconds, rid)
            if observers:
                method = str(scope.get("method", ""))
                route = scope.get("path_template") or UNMATCHED_ROUTE
                for observer in observers:
                    observer.ended(method, route, status, seconds)

    def _secure(self, scope: Scope) -> bool:
        if self.config.trust_proxy_headers:
            forwarded = _header(scope, b"x-forwarded-proto")
            if forwarded:
                return forwarded.split(",")[0].strip().lower() == "https"
        return scope.get("scheme") in ("https", "wss")

    def _refuse(self, scope: Scope) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """(status, headers, body) when the edge answers by itself."""
        path: str = scope.get("path", "")
        if self.config.production and not _is_health(path) and not self._secure(scope):
            host = _redirect_host(_header(scope, b"host"), self.config.public_host)
            raw_path = scope.get("raw_path") or quote(path).encode("ascii")
            raw_path = bytes(raw_path).split(b"?", 1)[0]  # some servers leave the query on it
            query = scope.get("query_string") or b""
            location = b"https://" + host.encode("latin-1") + raw_path
            if query:
                location += b"?" + bytes(query)
            return 308, [(b"location", location), (b"content-length", b"0")], b""
        rid = scope["state"]["request_id"]
        query_string = bytes(scope.get("query_string") or b"")
        if "\x00" in path or b"\x00" in query_string or b"%00" in query_string:
            body = error_bytes(
                ErrorCode.BAD_REQUEST, "the URL must not contain NUL characters", rid
            )
            return 400, _json_headers(body), body
        length = _header(scope, b"content-length")
        if length is not None:
            length = length.strip()
            if not (length.isascii() and length.isdigit()):
                body = error_bytes(ErrorCode.BAD_REQUEST, "Content-Length must be a number", rid)
                return 400, _json_headers(body), body
            if int(length) > self.config.max_body_bytes:
                message = f"the request body exceeds {self.config.max_body_bytes} bytes"
                body = error_bytes(ErrorCode.PAYLOAD_TOO_LARGE, message, rid)
                return 413, [*_json_headers(body), (b"connection", b"close")], body
        return None

    def _headers(
        self, scope: Scope, rid: str, headers: list[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        present = {name.lower() for name, _ in headers}
        extra: list[tuple[bytes, bytes]] = [(b"x-request-id", rid.encode("latin-1"))]
        headers = [(n, v) for n, v in headers if n.lower() != b"x-request-id"]
        if b"content-security-policy" not in present:
            csp = DOCS_CSP if scope.get("state", {}).get(DOCS_CSP_KEY) else API_CSP
            extra.append((b"content-security-policy", csp.encode("latin-1")))
        defaults = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
        ]
        if self.config.production:
            defaults.append((b"strict-transport-security", HSTS.encode("latin-1")))
        extra.extend((name, value) for name, value in defaults if name not in present)
        limit = rate_limit(scope)
        if limit is not None and b"x-ratelimit-limit" not in present:
            allowed, remaining, reset_after = limit
            extra += [
                (b"x-ratelimit-limit", str(allowed).encode("latin-1")),
                (b"x-ratelimit-remaining", str(remaining).encode("latin-1")),
                (b"x-ratelimit-reset", str(math.ceil(reset_after)).encode("latin-1")),
            ]
        return headers + extra

    def _log(self, scope: Scope, status: int, seconds: float, rid: str) -> None:
        path = str(scope.get("path", ""))
        if len(path) > MAX_LOGGED_PATH:
            path = path[:MAX_LOGGED_PATH] + "…"
        fields = {
            "method": scope.get("method"),
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "request_id": rid,
            "user_id": user_id(scope),
            **span_ids(),  # with traces on, the request's trace_id and span_id
        }
        level = logging.ERROR if status >= 500 else logging.INFO
        logger.log(level, json.dumps(fields, ensure_ascii=True), extra={"http": fields})


def _json_headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]


async def _send_refusal(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_json(send: Send, status: int, body: bytes) -> None:
    await _send_refusal(send, status, _json_headers(body), body)


__all__ = [
    "REQUEST_ID_HEADER",
    "UNMATCHED_ROUTE",
    "EdgeConfig",
    "EdgeMiddleware",
    "RequestObserver",
    "use_docs_csp",
]
