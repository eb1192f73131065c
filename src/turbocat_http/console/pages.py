"""What every console page shares: rendering under the console's CSP, redirects after a post,
form fields, and errors as pages (a missing or foreign resource is the 404 page)."""

from __future__ import annotations

import logging
from typing import Any, Final
from urllib.parse import quote

from litestar import Request, Response
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template

from turbocat_core.errors import ExternalServiceError, TurbocatError, Unauthenticated
from turbocat_http.console.session import cleared_cookies, is_htmx, with_renewed_cookies
from turbocat_http.context import request_id
from turbocat_http.dependencies import container_of
from turbocat_http.errors import map_core_error

logger = logging.getLogger("turbocat.http")

CONSOLE_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""Scripts, styles and requests from this server only; no inline script or style at all."""
PAGE_HEADERS: Final = {
    "Content-Security-Policy": CONSOLE_CSP,
    "Cache-Control": "no-store",
}
MAX_FIELD: Final = 1_000_000


def page(
    request: Request[Any, Any, Any], template: str, *, status: int = 200, **context: Any
) -> Template:
    """The template rendered (Jinja autoescapes everything) with the console's headers."""
    return with_renewed_cookies(
        request,
        Template(template_name=template, context=context, status_code=status, headers=PAGE_HEADERS),
    )


def go(request: Request[Any, Any, Any], url: str) -> Redirect:
    """After a post: see the result at ``url`` (303, so the browser GETs it)."""
    return with_renewed_cookies(request, Redirect(url, status_code=303, headers=PAGE_HEADERS))


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never ``//host``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def form_of(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The posted form's text fields (files and over-long values are left out)."""
    form = await request.form()
    fields: dict[str, str] = {}
    for name, value in form.items():
        if not isinstance(value, UploadFile) and len(value) <= MAX_FIELD:
            fields[name] = value
    return fields


def _wants_fragment(request: Request[Any, Any, Any]) -> bool:
    accept = request.headers.get("accept") or ""
    return is_htmx(request) or "text/event-stream" in accept


def console_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The console's exception handler: signed out goes to the sign-in page; the core's
    errors and Litestar's are pages with the API's statuses; anything else a 500 page."""
    if isinstance(exc, Unauthenticated):
        settings = container_of(request.app.state).settings()
        if _wants_fragment(request):
            response: Response[Any] = Response(
                b"", status_code=401, headers={**PAGE_HEADERS, "HX-Refresh": "true"}
            )
        else:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response = Redirect(
                f"/login?next={quote(target, safe='')}", status_code=303, headers=PAGE_HEADERS
            )
        response.cookies.extend(cleared_cookies(settings))
        return response
    status, message = 500, "something went wrong on our side"
    if isinstance(exc, TurbocatError) and not isinstance(exc, ExternalServiceError):
        mapped = map_core_error(exc)
        if mapped is not None:
            status, message = mapped[1], exc.message
    elif isinstance(exc, HTTPException):
        status, message = exc.status_code, str(exc.detail)
    else:
        logger.error(
            "console: unhandled %s on %s (request_id=%s)",
            type(exc).__name__,
            request.url.path,
            request_id(request.scope),
            exc_info=exc,
        )
    if status == 404:
        message = "there is nothing here, or it is not yours to see"
    return Response(
        content=_error_html(request, status, message),
        status_code=status,
        media_type="text/html",
        headers=PAGE_HEADERS,
    )


def _error_html(request: Request[Any, Any, Any], status: int, message: str) -> str:
    engine = request.app.template_engine
    assert engine is not None
    html: str = engine.get_template("error.html").render(
        status=status, message=message, request=request, signed_in=False
    )
    return html
