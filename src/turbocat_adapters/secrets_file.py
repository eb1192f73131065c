"""Server secrets: required and strong in production, generated once and kept in development."""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import replace
from pathlib import Path
from typing import Final

from turbocat_adapters.private_files import private_dir, tighten, tighten_dir
from turbocat_adapters.settings import Settings, required_in_production, variable
from turbocat_core.errors import FieldError, ValidationFailed

SECRETS_FILE: Final = "secrets.json"
MIN_SECRET_CHARS: Final = 32
_WEAK: Final = frozenset({"secret", "changeme", "change-me", "password", "turbocat", "dev", "test"})


def secret_problem(value: str) -> str | None:
    """Why a secret is too weak for production, or ``None``."""
    if len(value) < MIN_SECRET_CHARS:
        return f"must be at least {MIN_SECRET_CHARS} characters"
    if value.lower() in _WEAK or len(set(value)) < 10:
        return "is too easy to guess: use a long random value (e.g. `openssl rand -base64 48`)"
    return None


def encryption_key_problem(value: str) -> str | None:
    """The AES-256 key is 32 bytes in URL-safe base64."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return "must be 32 bytes in URL-safe base64"
    return None if len(raw) == 32 else "must be 32 bytes in URL-safe base64"


def with_secrets(settings: Settings) -> Settings:
    """Settings with a JWT secret and an encryption key.

    In production both must be given (``TURBOCAT_JWT_SECRET``, ``TURBOCAT_ENCRYPTION_KEY``)
    and strong, else ``ValidationFailed`` names each problem and the server does not start.
    Elsewhere, a missing one is read from ``<data_dir>/secrets.json``, or generated and
    written there once (mode 0600), so restarts keep sessions and encrypted values valid.
    The data dir, when it exists, is made private first (mode 0700: a CODE run's uid must not
    read the secrets or the SQLite file there).
    """
    tighten_dir(settings.data_dir)
    problems = []
    if settings.jwt_secret is not None and settings.production:
        why = secret_problem(settings.jwt_secret)
        if why:
            problems.append(FieldError("TURBOCAT_JWT_SECRET", why))
    if settings.encryption_key is not None:
        why = encryption_key_problem(settings.encryption_key)
        if why:
            problems.append(FieldError("TURBOCAT_ENCRYPTION_KEY", why))
    for key in settings.previous_encryption_keys:
        why = encryption_key_problem(key)
        if why:
            problems.append(FieldError("TURBOCAT_PREVIOUS_ENCRYPTION_KEYS", f"each key {why}"))
            break
    if settings.production:
        for name in required_in_production():
            if getattr(settings, name) is None:
                problems.append(FieldError(variable(name), "is required in production"))
    if problems:
        raise ValidationFailed("; ".join(f"{p.field} {p.message}" for p in problems), problems)
    if settings.jwt_secret is not None and settings.encryption_key is not None:
        return settings
    kept = _kept(settings.data_dir)
    return replace(
        settings,
        jwt_secret=settings.jwt_secret or kept["jwtSecret"],
        encryption_key=settings.encryption_key or kept["encryptionKey"],
    )


def _kept(data_dir: Path) -> dict[str, str]:
    path = data_dir / SECRETS_FILE
    if path.is_file():
        tighten(path)
        stored: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        return stored
    values = {
        "jwtSecret": secrets.token_urlsafe(48),
        "encryptionKey": base64.urlsafe_b64encode(os.urandom(32)).decode("ascii").rstrip("="),
    }
    private_dir(data_dir)
    temporary = data_dir / f".{SECRETS_FILE}.{os.getpid()}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(values, handle)
    try:
        os.link(temporary, path)  # fails if another process got there first: theirs wins
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    kept: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return kept
