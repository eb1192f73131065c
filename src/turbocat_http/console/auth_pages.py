"""Sign in and out: the API's login and logout use cases, the tokens in cookies."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from turbocat_core.domain.access import Actor
from turbocat_core.errors import RateLimited, Unauthenticated, ValidationFailed
from turbocat_core.usecases.accounts import Login, Logout
from turbocat_http.auth.security import client_of
from turbocat_http.console.pages import PAGE_HEADERS, form_of, go, page, safe_next
from turbocat_http.console.session import cleared_cookies, session_cookies
from turbocat_http.dependencies import container_of


@get("/login", name="console-login")
async def login_page(
    request: Request[Any, Any, Any],
    next_url: Annotated[str | None, QueryParameter(name="next", max_length=2000)] = None,
) -> Template:
    return page(request, "login.html", next=safe_next(next_url), error=None, email="")


@post("/login")
async def sign_in(
    request: Request[Any, Any, Any], login: NamedDependency[Login]
) -> Template | Redirect:
    form = await form_of(request)
    email, password = form.get("email", "")[:320], form.get("password", "")[:1024]
    target = safe_next(form.get("next"))
    try:
        _, tokens = await login(email, password, client_of(request))
    except (Unauthenticated, ValidationFailed) as error:
        message = error.message if isinstance(error, Unauthenticated) else "wrong email or password"
        return page(request, "login.html", status=401, next=target, error=message, email=email)
    except RateLimited as error:
        return page(
            request, "login.html", status=429, next=target, error=error.message, email=email
        )
    settings = container_of(request.app.state).settings()
    response = Redirect(target, status_code=303, headers=PAGE_HEADERS)
    response.cookies.extend(session_cookies(tokens, settings))
    return response


@post("/logout")
async def sign_out(
    request: Request[Any, Any, Any], actor: NamedDependency[Actor], logout: NamedDependency[Logout]
) -> Redirect:
    await logout(actor, client_of(request))
    response = go(request, "/login")
    response.cookies.extend(cleared_cookies(container_of(request.app.state).settings()))
    return response


HANDLERS = [login_page, sign_in, sign_out]
