"""Errors to the wire: one table from the core's error family to (code, status), one handler.

``handle_exception`` is registered once, for ``Exception``, on the app. It answers every error
in the envelope of docs/api.md ``{"success": false, "error": {"code", "message", "details"?,
"requestId"}}``:

- the core's family through ``CORE_ERRORS`` (the most specific class in the MRO wins, so
  ``CycleDetected`` is a ``ValidationFailed`` and ``AlreadyExists`` no plain ``Conflict``);
  field paths, snake_case in the core, as the wire names them (``wire_path``);
  ``Unauthenticated`` answers its own ``code``;
  ``RateLimited`` adds ``Retry-After`` (whole seconds, rounded up); an
  ``ExternalServiceError``'s text (driver words, hosts) is logged, not answered;
- Litestar's own errors by status (bad query, path or body values are ``VALIDATION_ERROR``
  naming the field by its wire name, malformed JSON ``BAD_REQUEST``, unknown route 404,
  wrong method 405 + ``Allow``, 413, 415: see ``requests.py``);
- anything else is ``INTERNAL_ERROR`` with a fixed message: the exception is logged here with
  the request id, and nothing about it (type, text, stack) reaches the client.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.params import ParameterKwarg
from litestar.response import Response

from turbocat_adapters.wire import wire_path
from turbocat_core.errors import (
    AlreadyExists,
    Conflict,
    ExternalServiceError,
    FieldError,
    InvalidState,
    NotConfigured,
    NotFound,
    PermissionDenied,
    RateLimited,
    TurbocatError,
    Unauthenticated,
    ValidationFailed,
)
from turbocat_http.context import request_id
from turbocat_http.schemas import ErrorCode, ErrorDetail, ErrorResponse, FieldProblem

logger = logging.getLogger("turbocat.http")

CORE_ERRORS: Final[Mapping[type[TurbocatError], tuple[ErrorCode, int]]] = {
    NotFound: (ErrorCode.NOT_FOUND, 404),
    ValidationFailed: (ErrorCode.VALIDATION_ERROR, 400),
    AlreadyExists: (ErrorCode.ALREADY_EXISTS, 409),
    Conflict: (ErrorCode.CONFLICT, 409),
    InvalidState: (ErrorCode.INVALID_STATE, 409),
    Unauthenticated: (ErrorCode.UNAUTHORIZED, 401),  # or its own .code
    PermissionDenied: (ErrorCode.FORBIDDEN, 403),
    RateLimited: (ErrorCode.RATE_LIMITED, 429),  # + Retry-After
    ExternalServiceError: (ErrorCode.SERVICE_UNAVAILABLE, 503),
    NotConfigured: (ErrorCode.SERVICE_UNAVAILABLE, 503),
}
"""The core's error family -> (code, HTTP status). A bare ``TurbocatError`` is a bug: 500."""

HTTP_ERRORS: Final[Mapping[int, ErrorCode]] = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}
"""Litestar's ``HTTPException`` statuses -> code (other 4xx: ``BAD_REQUEST``, 5xx: 500)."""

DEFAULT_MESSAGES: Final[Mapping[ErrorCode, str]] = {
    ErrorCode.BAD_REQUEST: "the request is malformed",
    ErrorCode.VALIDATION_ERROR: "the request is invalid",
    ErrorCode.UNAUTHORIZED: "authentication required",
    ErrorCode.FORBIDDEN: "you may not do this",
    ErrorCode.NOT_FOUND: "no such resource",
    ErrorCode.METHOD_NOT_ALLOWED: "this method is not allowed here",
    ErrorCode.CONFLICT: "the request conflicts with the current state",
    ErrorCode.PAYLOAD_TOO_LARGE: "the request body is too large",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "the body must be JSON (Content-Type: application/json)",
    ErrorCode.RATE_LIMITED: "too many requests; slow down",
    ErrorCode.INTERNAL_ERROR: "an internal error occurred; quote the request id when reporting it",
    ErrorCode.SERVICE_UNAVAILABLE: "a service Turbocat depends on is unavailable; try again later",
}

UNAUTHENTICATED_CODES: Final = frozenset(
    {
        ErrorCode.UNAUTHORIZED,
        ErrorCode.INVALID_CREDENTIALS,
        ErrorCode.TOKEN_EXPIRED,
        ErrorCode.INVALID_TOKEN,
    }
)

_encoder = msgspec.json.Encoder()


def error_payload(
    code: ErrorCode,
    message: str,
    request_id: str,
    details: Sequence[FieldProblem] = (),
) -> ErrorResponse:
    return ErrorResponse(
        success=False,
        error=ErrorDetail(
            code=code,
            message=message,
            request_id=request_id,
            details=list(details) if details else msgspec.UNSET,
        ),
    )


def error_bytes(code: ErrorCode, message: str, request_id: str) -> bytes:
    """The envelope as JSON, for answers made below Litestar (the edge middleware)."""
    return _encoder.encode(error_payload(code, message, request_id))


def _response(
    request: Request[Any, Any, Any],
    status: int,
    code: ErrorCode,
    message: str,
    details: Sequence[FieldProblem] = (),
    headers: Mapping[str, str] | None = None,
) -> Response[ErrorResponse]:
    return Response(
        error_payload(code, message, request_id(request.scope), details),
        status_code=status,
        headers=dict(headers or {}),
        media_type="application/json",
    )


def map_core_error(error: TurbocatError) -> tuple[ErrorCode, int] | None:
    """(code, status) for a core error; ``None`` when the table does not know its class."""
    for cls in type(error).__mro__:
        mapped = CORE_ERRORS.get(cls)
        if mapped is not None:
            return _refine(error, *mapped)
    return None


def _refine(error: TurbocatError, code: ErrorCode, status: int) -> tuple[ErrorCode, int]:
    if isinstance(error, Unauthenticated):
        own = error.code
        return (ErrorCode(own) if own in UNAUTHENTICATED_CODES else code), status
    return code, status


def _core_response(
    request: Request[Any, Any, Any], error: TurbocatError
) -> Response[ErrorResponse] | None:
    mapped = map_core_error(error)
    if mapped is None:
        return None
    code, status = mapped
    message = error.message
    details: list[FieldProblem] = []
    headers: dict[str, str] = {}
    if isinstance(error, ValidationFailed):
        details = [FieldProblem(field=wire_path(d.field), message=d.message) for d in error.details]
        message = _wire_message(message, error.details)
    elif isinstance(error, RateLimited):
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
        limit = getattr(error, "limit", None)
        if isinstance(limit, int):
            headers["X-RateLimit-Limit"] = str(limit)
            headers["X-RateLimit-Remaining"] = "0"
            headers["X-RateLimit-Reset"] = headers["Retry-After"]
    elif isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="turbocat"'
    elif isinstance(error, ExternalServiceError):
        # Driver text may name tables, hosts or SQL: it goes to the log, never to the client.
        logger.warning(
            "dependency unavailable: %s (service=%s request_id=%s)",
            error.message,
            error.service or "?",
            request_id(request.scope),
        )
        message = DEFAULT_MESSAGES[ErrorCode.SERVICE_UNAVAILABLE]
    return _response(request, status, code, message, details, headers)


def _wire_message(message: str, details: Sequence[FieldError]) -> str:
    """The summary with the field paths it quotes (``full_name: ...``) named as on the wire."""
    for detail in details:
        wire = wire_path(detail.field)
        if wire != detail.field:
            quoted = re.compile(rf"(?<![\w.]){re.escape(detail.field)}:")
            message = quoted.sub(f"{wire}:".replace("\\", "\\\\"), message)
    return message


_MSGSPEC_UNKNOWN = re.compile(r"Object contains unknown field `(?P<name>.+)`")
_MSGSPEC_MISSING = re.compile(r"Object missing required field `(?P<name>.+)`")
_INDEX = re.compile(r"\[(\d+)\]")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def wire_names(handler: object) -> dict[str, str]:
    """Python parameter name -> the name on the wire (``page_size`` -> ``pageSize``) for a
    handler's query, header, cookie and path parameters, its dependencies' included."""
    if not isinstance(handler, HTTPRouteHandler):
        return {}
    fields = list(handler.parsed_fn_signature.parameters.values())
    for provide in handler.resolve_dependencies().values():
        signature = getattr(provide, "parsed_fn_signature", None)
        if signature is not None:
            fields.extend(signature.parameters.values())
    return {
        field.name: field.kwarg_definition.name
        for field in fields
        if isinstance(field.kwarg_definition, ParameterKwarg) and field.kwarg_definition.name
    }


def validation_details(
    error: ValidationException, names: Mapping[str, str] | None = None
) -> list[FieldProblem]:
    """Litestar's ``extra`` (``[{"message", "key", "source"}]``, msgspec wording) as field
    problems: ``steps[0].retryCount`` -> ``steps.0.retryCount``; the body root is ``body``;
    parameters by their wire ``names``."""
    extra = error.extra if isinstance(error.extra, list) else []
    problems: list[FieldProblem] = []
    for item in extra:
        if not isinstance(item, dict):
            continue
        key = str(item.get("key") or "")
        source = str(item.get("source") or "")
        message = str(item.get("message") or "is invalid")
        if source != "body":
            key = (names or {}).get(key, key)
        elif key == "data" and message == "'data'":  # Litestar's words for "no body at all"
            problems.append(FieldProblem(field="body", message="a JSON body is required"))
            continue
        path = "" if source == "body" and key == "data" else _INDEX.sub(r".\1", key)
        if match := _MSGSPEC_UNKNOWN.fullmatch(message):
            problems.append(FieldProblem(field=_join(path, match["name"]), message="unknown field"))
        elif match := _MSGSPEC_MISSING.fullmatch(message):
            problems.append(FieldProblem(field=_join(path, match["name"]), message="is required"))
        else:
            problems.append(FieldProblem(field=path or source or "request", message=message))
    return problems


def _http_response(
    request: Request[Any, Any, Any], error: HTTPException
) -> Response[ErrorResponse] | None:
    status = error.status_code
    if status >= 500 and status != 503:
        return None
    headers = {str(k): str(v) for k, v in (error.headers or {}).items()}
    if isinstance(error, ValidationException):
        details = validation_details(error, wire_names(request.scope.get("route_handler")))
        message = DEFAULT_MESSAGES[ErrorCode.VALIDATION_ERROR]
        if details:
            message = f"{details[0].field}: {details[0].message}"
        return _response(request, 400, ErrorCode.VALIDATION_ERROR, message, details, headers)
    code = HTTP_ERRORS.get(status, ErrorCode.BAD_REQUEST)
    detail = error.detail
    if not detail or detail == HTTPStatus(status).phrase or status == 503:
        detail = DEFAULT_MESSAGES[code]
    elif isinstance(error.__cause__, SerializationException):  # msgspec's words, no input echoed
        detail = f"the body is not valid JSON: {detail}"
    return _response(request, status, code, detail, (), headers)


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorResponse]:
    """The app's one exception handler (see the module docstring)."""
    response: Response[ErrorResponse] | None = None
    if isinstance(exc, TurbocatError):
        response = _core_response(request, exc)
    elif isinstance(exc, HTTPException):
        response = _http_response(request, exc)
    if response is not None:
        return response
    logger.error(
        "unhandled %s on %s %s (request_id=%s)",
        type(exc).__name__,
        request.scope.get("method", "?"),
        request.scope.get("path", "?"),
        request_id(request.scope),
        exc_info=exc,
    )
    return _response(
        request, 500, ErrorCode.INTERNAL_ERROR, DEFAULT_MESSAGES[ErrorCode.INTERNAL_ERROR]
    )
