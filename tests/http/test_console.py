"""The browser console over HTTP (Litestar's test client): sign in by cookie, CSRF on every
unsafe method, the CSP, escaping of what users wrote, and another user's run as a 404 page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.http.conftest import API, serve
from turbocat_http.console.pages import CONSOLE_CSP
from turbocat_http.console.session import ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE

PASSWORD = "Str0ng!pass"
XSS_NAME = "<script>alert('xss')</script>"
CSRF_FIELD = re.compile(r'name="_csrf_token" value="([0-9a-f]+)"')


def workflow_file(name: str = "Greeting", *, fail: bool = False) -> str:
    operation = "nonsense" if fail else "transform"
    return (
        f"name: {name!r}\n"
        "inputs: {who: Ada}\n"
        "agents:\n"
        "  shape:\n"
        "    type: DATA\n"
        f"    config: {{operation: {operation}, template: {{hello: '{{{{item.who}}}}'}}}}\n"
        "steps:\n"
        "  - stepKey: first\n"
        "    agent: shape\n"
        "    inputs: {data: {who: '{{inputs.who}}'}}\n"
        "  - stepKey: second\n"
        "    agent: shape\n"
        "    dependsOn: [first]\n"
        "    inputs: {data: {who: '{{first.output.hello}}'}}\n"
    )


async def csrf_token(client: AsyncTestClient[Any], path: str = "/login") -> str:
    page = await client.get(path)
    found = CSRF_FIELD.search(page.text)
    assert found, page.text
    return found.group(1)


async def sign_up(client: AsyncTestClient[Any], email: str) -> None:
    response = await client.post(
        f"{API}/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 201, response.text


async def sign_in(client: AsyncTestClient[Any], email: str) -> None:
    token = await csrf_token(client)
    response = await client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "next": "/workflows", "_csrf_token": token},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/workflows"


async def create_workflow(client: AsyncTestClient[Any], text: str) -> str:
    token = await csrf_token(client, "/workflows/new")
    response = await client.post("/workflows/new", data={"file": text, "_csrf_token": token})
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def run_workflow(client: AsyncTestClient[Any], workflow_path: str) -> str:
    token = await csrf_token(client, workflow_path)
    response = await client.post(
        f"{workflow_path}/run", data={"inputs": '{"who": "Bo"}', "_csrf_token": token}
    )
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def test_signed_out_pages_lead_to_the_sign_in_page():
    async with serve() as client:
        response = await client.get("/executions?status=FAILED")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Fexecutions%3Fstatus%3DFAILED"
        login = await client.get(response.headers["location"])
        assert login.status_code == 200
        assert 'name="next" value="/executions?status=FAILED"' in login.text


async def test_sign_in_sets_httponly_strict_cookies_and_pages_carry_the_csp():
    async with serve() as client:
        await sign_up(client, "ada@example.com")
        await sign_in(client, "ada@example.com")
        cookies = client.cookies
        assert cookies.get(ACCESS_COOKIE) and cookies.get(REFRESH_COOKIE)
        page = await client.get("/workflows")
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == CONSOLE_CSP
        assert "'unsafe-inline'" not in CONSOLE_CSP and "'unsafe-eval'" not in CONSOLE_CSP
        assert "<script>" not in page.text  # every script is a file of the server's
        # the API's own answers keep the API's CSP
        api = await client.get(f"{API}/templates")
        assert api.headers["content-security-policy"] != CONSOLE_CSP


async def test_session_cookies_are_httponly_and_samesite_strict():
    async with serve() as client:
        await sign_up(client, "cookie@example.com")
        token = await csrf_token(client)
        response = await client.post(
            "/login",
            data={"email": "cookie@example.com", "password": PASSWORD, "_csrf_token": token},
        )
        set_cookies = response.headers.get_list("set-cookie")
        for name in (ACCESS_COOKIE, REFRESH_COOKIE):
            (cookie,) = [c for c in set_cookies if c.startswith(f"{name}=")]
            assert "HttpOnly" in cookie
            assert "samesite=strict" in cookie.lower()


async def test_a_wrong_password_is_the_sign_in_page_again():
    async with serve() as client:
        await sign_up(client, "bo@example.com")
        token = await csrf_token(client)
        response = await client.post(
            "/login",
            data={"email": "bo@example.com", "password": "Wrong!pass1", "_csrf_token": token},
        )
        assert response.status_code == 401
        assert 'role="alert"' in response.text
        assert ACCESS_COOKIE not in client.cookies


async def test_unsafe_methods_without_the_csrf_token_are_refused():
    async with serve() as client:
        await sign_up(client, "csrf@example.com")
        await csrf_token(client)  # the CSRF cookie is set, but the form does not carry it
        response = await client.post(
            "/login", data={"email": "csrf@example.com", "password": PASSWORD}
        )
        assert response.status_code == 403
        assert ACCESS_COOKIE not in client.cookies
        await sign_in(client, "csrf@example.com")
        refused = await client.post("/workflows/new", data={"file": workflow_file()})
        assert refused.status_code == 403
        forged = await client.post(
            "/workflows/new", data={"file": workflow_file(), "_csrf_token": "0" * 128}
        )
        assert forged.status_code == 403
        listed = await client.get("/workflows")
        assert "Greeting" not in listed.text


async def test_the_csrf_cookie_is_httponly():
    async with serve() as client:
        page = await client.get("/login")
        (cookie,) = [c for c in page.headers.get_list("set-cookie") if c.startswith(CSRF_COOKIE)]
        assert "HttpOnly" in cookie


async def test_user_text_is_escaped_everywhere_it_is_shown():
    async with serve() as client:
        await sign_up(client, "xss@example.com")
        await sign_in(client, "xss@example.com")
        workflow = await create_workflow(client, workflow_file(XSS_NAME))
        run = await run_workflow(client, workflow)
        for path in ("/workflows", workflow, "/executions", run):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert XSS_NAME not in page.text, path
        listed = await client.get("/workflows")
        assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in listed.text


async def test_another_users_run_is_a_404_page():
    async with serve() as owner:
        await sign_up(owner, "owner@example.com")
        await sign_in(owner, "owner@example.com")
        workflow = await create_workflow(owner, workflow_file())
        run = await run_workflow(owner, workflow)
        assert (await owner.get(run)).status_code == 200
        owner.cookies.clear()
        await sign_up(owner, "other@example.com")
        await sign_in(owner, "other@example.com")
        for path in (run, f"{run}/steps/first", f"{run}/summary", workflow):
            page = await owner.get(path)
            assert page.status_code == 404, path
            assert page.headers["content-type"].startswith("text/html")
            assert "Not found" in page.text
        token = await csrf_token(owner, "/executions")
        cancel = await owner.post(f"{run}/cancel", data={"_csrf_token": token})
        assert cancel.status_code == 404
        listed = await owner.get("/executions")
        assert run.rsplit("/", 1)[1] not in listed.text


@pytest.mark.parametrize("path", ["/executions", "/workflows", "/deployments", "/api-keys"])
async def test_each_page_renders_for_a_new_user(path: str):
    async with serve() as client:
        await sign_up(client, "new@example.com")
        await sign_in(client, "new@example.com")
        page = await client.get(path)
        assert page.status_code == 200
        assert "<main" in page.text


def put_cookie(client: AsyncTestClient[Any], name: str, value: str) -> None:
    """Replace a cookie the server set (its domain is the test host's)."""
    client.cookies.delete(name)
    client.cookies.set(name, value, domain="testserver.local")


async def test_an_expired_access_cookie_is_renewed_with_the_refresh_cookie():
    async with serve() as client:
        await sign_up(client, "renew@example.com")
        await sign_in(client, "renew@example.com")
        refresh = client.cookies[REFRESH_COOKIE]
        put_cookie(client, ACCESS_COOKIE, "not-a-token")
        # an htmx request never spends the refresh token: the page is asked to reload
        fragment = await client.get("/workflows", headers={"HX-Request": "true"})
        assert fragment.status_code == 401
        assert fragment.headers["hx-refresh"] == "true"
        put_cookie(client, ACCESS_COOKIE, "not-a-token")
        put_cookie(client, REFRESH_COOKIE, refresh)
        page = await client.get("/workflows")
        assert page.status_code == 200
        assert client.cookies[REFRESH_COOKIE] != refresh  # rotated, as the API does
        assert client.cookies[ACCESS_COOKIE] != "not-a-token"
        # the spent refresh token is refused (and, as in the API, ends the session)
        put_cookie(client, ACCESS_COOKIE, "not-a-token")
        put_cookie(client, REFRESH_COOKIE, refresh)
        again = await client.get("/workflows")
        assert again.status_code == 303
        assert again.headers["location"].startswith("/login")


async def test_signing_out_ends_the_session():
    async with serve() as client:
        await sign_up(client, "out@example.com")
        await sign_in(client, "out@example.com")
        access = client.cookies[ACCESS_COOKIE]
        token = await csrf_token(client, "/workflows")
        response = await client.post("/logout", data={"_csrf_token": token})
        assert response.status_code == 303
        assert response.headers["location"] == "/login"
        me = await client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {access}"})
        assert me.status_code == 401


async def test_the_execution_filters():
    async with serve() as client:
        await sign_up(client, "filters@example.com")
        await sign_in(client, "filters@example.com")
        workflow = await create_workflow(client, workflow_file("Filtered"))
        run = await run_workflow(client, workflow)
        run_id = run.rsplit("/", 1)[1]
        workflow_id = workflow.rsplit("/", 1)[1]

        async def listed(query: str) -> bool:
            page = await client.get(f"/executions?{query}")
            assert page.status_code == 200, page.text
            return run_id in page.text

        assert await listed("")
        assert await listed(f"workflow={workflow_id}&trigger=MANUAL")
        assert not await listed("trigger=WEBHOOK")
        assert await listed("since=2000-01-01T00:00&until=2999-01-01T00:00")
        assert not await listed("since=2999-01-01T00:00")
        assert not await listed("until=2000-01-01T00:00")
        bad = await client.get("/executions?status=SOMETIMES")
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("text/html")


async def test_a_step_fragment_and_the_analytics_page():
    async with serve() as client:
        await sign_up(client, "detail@example.com")
        await sign_in(client, "detail@example.com")
        workflow = await create_workflow(client, workflow_file("Detailed"))
        run = await run_workflow(client, workflow)
        fragment = await client.get(f"{run}/steps/second", headers={"HX-Request": "true"})
        assert fragment.status_code == 200
        assert "<html" not in fragment.text
        assert "Step <code>second</code>" in fragment.text
        missing = await client.get(f"{run}/steps/nope")
        assert missing.status_code == 400
        charts = await client.get(f"/analytics?workflow={workflow.rsplit('/', 1)[1]}")
        assert charts.status_code == 200
        assert charts.text.count("<figure") == 2


async def test_the_static_files_are_the_servers_own():
    async with serve() as client:
        htmx = await client.get("/static/htmx.min.js")
        assert htmx.status_code == 200
        assert "javascript" in htmx.headers["content-type"]
        assert "htmx" in htmx.text[:2000]
        page = await client.get("/login")
        sources = re.findall(r'(?:src|href)="([^"#]+)"', page.text)
        assert sources, page.text
        assert all(source.startswith("/") and not source.startswith("//") for source in sources)
