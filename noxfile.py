"""Developer tasks: `nox` runs lint, typecheck, imports and tests (what CI runs)."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "imports", "tests"]
nox.options.reuse_existing_virtualenvs = True
PYTHON = "3.11"


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over src/."""
    session.install("-e", ".[dev,postgres,redis,otel]")
    session.run("mypy")


@nox.session(python=PYTHON)
def imports(session: nox.Session) -> None:
    """The layer contracts: http|cli -> adapters -> core, and a core with no third-party imports."""
    session.install("-e", ".[dev,postgres,redis,otel]")
    session.run("lint-imports")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite, in parallel processes; extra arguments go to pytest."""
    session.install("-e", ".[dev,postgres,redis,otel]")
    session.run("pytest", "-n", "auto", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Print the benchmarks' figures (not part of the default run)."""
    session.install("-e", ".[dev,postgres,redis,otel]")
    session.run("python", "benchmarks/engine.py")
    session.run("python", "benchmarks/storage.py")
