"""The app a server process runs, built from the environment (uvicorn imports it by name)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from turbocat_adapters.container import Container
from turbocat_adapters.secrets_file import with_secrets
from turbocat_adapters.settings import Settings
from turbocat_http.app import create_app

if TYPE_CHECKING:
    from litestar import Litestar

APP_FACTORY = "turbocat_http.server:app_from_environment"


def app_from_environment() -> Litestar:
    """Settings from ``TURBOCAT_*`` (and ``.env``), secrets resolved, the full API; the
    ``TURBOCAT_FUNCTIONS`` modules imported in this process (each server process has its
    own registry: ``turbocat serve`` checked they import before starting any)."""
    container = Container()
    container.settings.override(with_secrets(Settings.load()))
    container.functions()
    return create_app(container)
