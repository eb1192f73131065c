"""The envelope every API answer travels in, as msgspec Structs (also the OpenAPI schemas)."""

# No ``from __future__ import annotations``: msgspec and Litestar read these annotations.

from enum import StrEnum
from typing import Generic, Literal, TypeVar

import msgspec

T = TypeVar("T")


class ErrorCode(StrEnum):
    """Every ``error.code`` the API answers with (docs/api.md)."""

    BAD_REQUEST = "BAD_REQUEST"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    UNAUTHORIZED = "UNAUTHORIZED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    INVALID_TOKEN = "INVALID_TOKEN"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    CONFLICT = "CONFLICT"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    INVALID_STATE = "INVALID_STATE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


class FieldProblem(msgspec.Struct, frozen=True):
    """One offending input: ``field`` is a dotted camelCase path (``steps.2.dependsOn``)."""

    field: str
    message: str


class ErrorDetail(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    code: ErrorCode
    message: str
    request_id: str
    details: list[FieldProblem] | msgspec.UnsetType = msgspec.UNSET


class ErrorResponse(msgspec.Struct, frozen=True):
    """``{"success": false, "error": {"code", "message", "details"?, "requestId"}}``."""

    success: Literal[False]
    error: ErrorDetail


class Envelope(msgspec.Struct, Generic[T], frozen=True):
    """``{"success": true, "data": ...}``: annotate handlers with ``Envelope[X]`` (the
    OpenAPI schema ``XEnvelope``)."""

    success: Literal[True]
    data: T


class PageMeta(msgspec.Struct, frozen=True, rename="camel"):
    page: int
    page_size: int
    total: int
    total_pages: int
    has_next: bool
    has_prev: bool


class PageEnvelope(msgspec.Struct, Generic[T], frozen=True):
    """``{"success": true, "data": [...], "meta": PageMeta}``: one page of a listing (the
    OpenAPI schema ``XPage``)."""

    success: Literal[True]
    data: list[T]
    meta: PageMeta
