"""`turbocat user create-admin` and `turbocat apikey create`: accounts from the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from turbocat_adapters.store_contract import Store
from turbocat_cli.data import fail, load_container, out, run_with_store
from turbocat_core.domain.access import Actor
from turbocat_core.domain.api_key import ApiKey
from turbocat_core.domain.user import User, UserRole, canonical_email, check_password_policy
from turbocat_core.errors import NotFound, TurbocatError

user = typer.Typer(help="Accounts.", no_args_is_help=True)
apikey = typer.Typer(help="API keys.", no_args_is_help=True)


@user.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="The admin's email.", show_default=False)],
    password: Annotated[
        str | None,
        typer.Option(
            help="Its password (asked for, twice and hidden, when not given).", show_default=False
        ),
    ] = None,
    full_name: Annotated[str | None, typer.Option("--name", help="A display name.")] = None,
) -> None:
    """Create an ADMIN account (exit 1 if the email is taken or the password is weak)."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_password_policy(password)
    except TurbocatError as error:
        raise fail(error.message) from None
    container = load_container(secrets=True)

    async def work(store: Store) -> User:
        created = await container.create_user()(
            email, password, role=UserRole.ADMIN, full_name=full_name
        )
        assert created is not None  # without exist_ok, a taken email raises
        return created

    created = run_with_store(container, work)
    out.print(f"created ADMIN {created.email} ({created.id})", highlight=False)


@apikey.command("create")
def create_key(
    email: Annotated[str, typer.Option(help="The owner's email.", show_default=False)],
    name: Annotated[str, typer.Option(help="A name to tell the key apart.", show_default=False)],
    scope: Annotated[
        list[str] | None,
        typer.Option(help="A scope such as workflows:read (repeat it); default: every scope."),
    ] = None,
    rate_limit: Annotated[int, typer.Option(help="Requests per minute.")] = 60,
    expires: Annotated[
        datetime | None,
        typer.Option(
            help="When it stops working (ISO 8601, UTC if no offset).",
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
        ),
    ] = None,
) -> None:
    """Create an API key for a user and print it (the only time it is shown)."""
    container = load_container(secrets=True)
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)

    async def work(store: Store) -> tuple[ApiKey, str]:
        async with container.uow()() as uow:
            owner = await uow.users.get_by_email(canonical_email(email))
        if owner is None:
            raise NotFound("user", email)
        actor = Actor(user_id=owner.id, role=owner.role)
        return await container.create_api_key()(
            actor,
            name=name,
            scopes=scope or [],
            rate_limit_per_minute=rate_limit,
            expires_at=expires,
        )

    key, raw = run_with_store(container, work)
    out.print(f"created API key {key.name!r} ({key.id}) for {email}", highlight=False)
    out.print(raw, highlight=False, soft_wrap=True)
    typer.echo("(shown once: store it now)", err=True)
