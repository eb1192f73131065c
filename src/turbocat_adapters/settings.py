"""Settings: every ``TURBOCAT_*`` variable (and a ``.env`` file) parsed once into one object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from turbocat_core.errors import ValidationFailed

DEFAULT_MAX_STEP_OUTPUT_BYTES = 1024 * 1024


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines; ``#`` comments, optional ``export``, single or double quotes."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed.field(name, f"must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ValidationFailed.field(name, f"must be at least {minimum}")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What a Turbocat process is configured with. Build it with :meth:`load`."""

    env: str = "development"
    data_dir: Path = Path(".turbocat")
    database_url: str | None = None
    max_step_output_bytes: int = DEFAULT_MAX_STEP_OUTPUT_BYTES
    retention_days: int = 30
    bcrypt_rounds: int = 12
    seed_admin_password: str | None = field(default=None, repr=False)
    seed_demo_password: str | None = field(default=None, repr=False)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, dotenv: Path | None = None) -> Settings:
        """From ``environ`` (default ``os.environ``) over a ``.env`` file (real variables win)."""
        source = dict(read_dotenv(dotenv or Path(".env")))
        source.update(os.environ if environ is None else environ)
        env = source.get("TURBOCAT_ENV", "development").strip().lower() or "development"
        if env not in ("development", "production", "test"):
            raise ValidationFailed.field("TURBOCAT_ENV", "must be development, production or test")
        return cls(
            env=env,
            data_dir=Path(source.get("TURBOCAT_DATA_DIR") or ".turbocat"),
            database_url=source.get("TURBOCAT_DATABASE_URL") or None,
            max_step_output_bytes=_int(
                source, "TURBOCAT_MAX_STEP_OUTPUT_BYTES", DEFAULT_MAX_STEP_OUTPUT_BYTES, minimum=1
            ),
            retention_days=_int(source, "TURBOCAT_RETENTION_DAYS", 30, minimum=1),
            bcrypt_rounds=_int(source, "TURBOCAT_BCRYPT_ROUNDS", 12, minimum=4),
            seed_admin_password=source.get("TURBOCAT_SEED_ADMIN_PASSWORD") or None,
            seed_demo_password=source.get("TURBOCAT_SEED_DEMO_PASSWORD") or None,
        )
