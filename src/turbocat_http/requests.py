"""The app's ``Request``: JSON bodies are JSON (by ``Content-Type``) and decode into 400s.

Litestar reads a handler's JSON ``data`` through ``Request.json()`` after routing and after
every guard (so authentication answers before the body is even read). It does not check the
``Content-Type`` there, and lets a few malformed bodies (invalid UTF-8 inside a string,
nesting deeper than msgspec recurses) escape as non-HTTP errors; this subclass does both.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, SerializationException
from litestar.handlers import BaseRouteHandler, HTTPRouteHandler
from litestar.params import BodyKwarg


def is_json_media_type(content_type: str | None) -> bool:
    """``application/json`` or any ``application/*+json``, parameters ignored."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def takes_json_body(handler: BaseRouteHandler) -> bool:
    """Does the handler read a JSON ``data`` argument (the default body encoding)?"""
    if not isinstance(handler, HTTPRouteHandler):
        return False
    field = handler.parsed_fn_signature.parameters.get("data")
    if field is None:
        return False
    kwarg = field.kwarg_definition
    media_type = kwarg.media_type if isinstance(kwarg, BodyKwarg) else RequestEncodingType.JSON
    return media_type == RequestEncodingType.JSON


class TurbocatRequest(Request[Any, Any, Any]):
    """A body read as JSON must say so (415 otherwise) and decode (400 otherwise)."""

    async def json(self) -> Any:
        if not is_json_media_type(self.headers.get("content-type")):
            raise HTTPException(
                status_code=415,
                detail="the body must be JSON (Content-Type: application/json)",
            )
        try:
            return await super().json()
        except (UnicodeDecodeError, RecursionError):  # invalid UTF-8 in a string; deep nesting
            raise SerializationException("invalid UTF-8 or nesting too deep") from None
