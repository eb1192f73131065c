"""`turbocat settings`: the settings this process would run with, or the template of all."""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated

import typer

from turbocat_adapters.settings import example_env, variable
from turbocat_cli.data import load_container


def settings(
    example: Annotated[
        bool,
        typer.Option(
            "--example",
            help="Print the .env template instead: every setting, its default, what it does.",
        ),
    ] = False,
) -> None:
    """Print the TURBOCAT_* settings as this process reads them (secrets masked), or with
    --example the template of them all (.env.example)."""
    if example:
        typer.echo(example_env(), nl=False)
        return
    current = load_container().settings()
    for f in fields(current):
        value = getattr(current, f.name)
        if isinstance(value, tuple):
            value = ",".join(value)
        if not f.repr and value:
            value = "(set)"
        typer.echo(f"{variable(f.name)}={'' if value is None else value}")
