"""Settings: every ``TURBOCAT_*`` variable (and a ``.env`` file) parsed once into one object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from ipaddress import ip_network
from pathlib import Path
from typing import Literal, TypeVar, cast

from turbocat_core.errors import ValidationFailed

DEFAULT_MAX_STEP_OUTPUT_BYTES = 1024 * 1024
RESOLVED_INPUT_OUTPUTS = 4
"""By default a step's references may resolve to four step outputs' worth of data."""
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
CodeSandbox = Literal["auto", "bubblewrap", "none"]
T = TypeVar("T")


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


def served_url(host: str, port: int) -> str:
    """The address the server answers on, as a link in a mail needs it: a wildcard host
    (``0.0.0.0``, ``::``) is this machine, ``localhost``."""
    if host in ("", "0.0.0.0", "::"):
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValidationFailed.field(name, f"must be true or false, got {raw!r}")


def _on_unless_off(env: Mapping[str, str], name: str) -> bool:
    return True if not (env.get(name) or "").strip() else _bool(env, name)


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma list of IP networks (``127.0.0.1``, ``10.0.0.0/8``, ``::1``), normalised."""
    networks: list[str] = []
    for entry in _entries(env, name):
        try:
            networks.append(str(ip_network(entry.strip("[]"), strict=False)))
        except ValueError:
            raise ValidationFailed.field(name, f"{entry!r} is not an IP network") from None
    return tuple(networks)


def _code_sandbox(env: Mapping[str, str], name: str) -> CodeSandbox:
    raw = (env.get(name) or "auto").strip().lower()
    if raw not in ("auto", "bubblewrap", "none"):
        raise ValidationFailed.field(name, f"must be auto, bubblewrap or none, got {raw!r}")
    return cast(CodeSandbox, raw)


def _base_url(env: Mapping[str, str], name: str, default: str) -> str:
    raw = (env.get(name) or "").strip().rstrip("/")
    if not raw:
        return default
    if not raw.startswith(("http://", "https://")):
        raise ValidationFailed.field(name, f"must be an http:// or https:// URL, got {raw!r}")
    return raw


def _entries(env: Mapping[str, str], name: str) -> list[str]:
    """A comma list's entries, stripped, the empty ones left out."""
    return [entry.strip() for entry in (env.get(name) or "").split(",") if entry.strip()]


def _hosts(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma list of host names and IP networks (``10.1.2.3``, ``10.0.0.0/8``, ``[::1]``)."""
    hosts: list[str] = []
    for entry in _entries(env, name):
        if "/" in entry or ":" in entry or entry.replace(".", "").isdigit():
            try:
                ip_network(entry.strip("[]"), strict=False)
            except ValueError:
                raise ValidationFailed.field(
                    name, f"{entry!r} is neither a host name nor an IP network"
                ) from None
        hosts.append(entry)
    return tuple(hosts)


def _modules(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma list of Python module names (``tasks,billing.steps``), each once, in order."""
    modules: list[str] = []
    for entry in _entries(env, name):
        if not all(part.isidentifier() for part in entry.split(".")):
            raise ValidationFailed.field(name, f"{entry!r} is not a Python module name")
        if entry not in modules:
            modules.append(entry)
    return tuple(modules)


def setting(
    default: T, doc: str, *, required_in_production: bool = False, secret: bool = False
) -> T:
    """A field of :class:`Settings`: its one line of documentation (``.env.example`` and
    ``turbocat settings --example`` are made from it), whether production refuses to start
    without it, and whether it stays out of ``repr``."""
    metadata = {"doc": doc, "required_in_production": required_in_production}
    return field(default=default, repr=not secret, metadata=metadata)


def variable(name: str) -> str:
    """The environment variable a :class:`Settings` field is read from."""
    return f"TURBOCAT_{name.upper()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What a Turbocat process is configured with. Build it with :meth:`load`."""

    env: str = setting("development", "development, test or production")
    data_dir: Path = setting(
        Path(".turbocat"),
        "where the embedded SQLite store keeps turbocat.db (and development its secrets.json)",
    )
    database_url: str | None = setting(
        None,
        "the store: unset for the embedded SQLite file, postgresql://user:password@host/db, "
        "sqlite:////absolute/file.db or memory://",
    )
    redis_url: str | None = setting(
        None,
        "redis://host:6379/0: fleet mode (Redis sessions, limits and the RQ queue that "
        "`turbocat worker` runs)",
        secret=True,
    )
    redis_prefix: str = setting(
        "turbocat", "every Redis key this deployment writes starts with <prefix>:"
    )
    max_step_output_bytes: int = setting(
        DEFAULT_MAX_STEP_OUTPUT_BYTES, "a step whose output is larger (as compact JSON) fails"
    )
    max_resolved_input_bytes: int = setting(
        RESOLVED_INPUT_OUTPUTS * DEFAULT_MAX_STEP_OUTPUT_BYTES,
        "what a step's inputs and configs may resolve to (default: 4 x the output limit)",
    )
    retention_days: int = setting(
        30, "days finished executions and their logs are kept (`turbocat prune`)"
    )
    max_run_recoveries: int = setting(
        2,
        "a run whose processing failed this many times (its process died, storing its "
        "progress failed: not a step's own failure) ends FAILED instead of being resumed",
    )
    bcrypt_rounds: int = setting(12, "bcrypt cost for passwords (4 or more)")
    seed_admin_password: str | None = setting(
        None, "the password `turbocat seed` gives the admin (else generated)", secret=True
    )
    seed_demo_password: str | None = setting(
        None, "the password `turbocat seed` gives the demo user (else generated)", secret=True
    )
    # The HTTP server
    host: str = setting("127.0.0.1", "the address `turbocat serve` listens on")
    port: int = setting(3001, "the port `turbocat serve` listens on")
    cors_origins: tuple[str, ...] = setting((), "comma-separated origins CORS allows")
    max_body_bytes: int = setting(DEFAULT_MAX_BODY_BYTES, "larger request bodies are refused (413)")
    trust_proxy_headers: bool = setting(
        False, "honour X-Forwarded-For/-Proto (behind a trusted proxy only)"
    )
    public_url: str = setting(
        "http://127.0.0.1:3001",
        "where the server is reached from outside (links in mails); by default where it listens",
    )
    log_level: str = setting("info", "debug, info, warning or error")
    single_process: bool = setting(
        False,
        "this process alone runs executions and schedules: it queues again at start-up what "
        "a stopped server left running (`serve --workers 1` sets it)",
    )
    # Accounts
    jwt_secret: str | None = setting(
        None,
        "signs access and refresh tokens (development generates one in the data dir)",
        required_in_production=True,
        secret=True,
    )
    encryption_key: str | None = setting(
        None,
        "encrypts deployment secrets (development generates one in the data dir)",
        required_in_production=True,
        secret=True,
    )
    previous_encryption_keys: tuple[str, ...] = setting(
        (),
        "comma-separated older keys: values sealed with them still open (until "
        "`turbocat db reseal`)",
        secret=True,
    )
    access_token_ttl: int = setting(15 * 60, "access token lifetime in seconds")
    refresh_token_ttl: int = setting(7 * 24 * 3600, "refresh token lifetime in seconds")
    smtp_url: str | None = setting(
        None, "smtp://user:password@host:587: how password-reset mail is sent", secret=True
    )
    mail_from: str = setting("Turbocat <no-reply@turbocat.local>", "the sender of that mail")
    bootstrap_admin_email: str | None = setting(
        None, "an ADMIN `turbocat serve` creates at start-up (with the password below)"
    )
    bootstrap_admin_password: str | None = setting(None, "that ADMIN's password", secret=True)
    # CODE agents
    code_sandbox: CodeSandbox = setting(
        "auto",
        "how CODE steps are isolated: auto (bubblewrap where it works), bubblewrap "
        "(required) or none (docs/agents.md)",
    )
    # API agents (outbound HTTP)
    http_allow_private: bool = setting(
        False,
        "let API agents reach loopback, private, link-local... addresses (not cloud metadata)",
    )
    http_allowed_hosts: tuple[str, ...] = setting(
        (),
        "comma-separated host names and IP networks API agents may reach whatever the SSRF "
        "guard says",
    )
    # FUNCTION agents
    functions: tuple[str, ...] = setting(
        (),
        "comma-separated modules imported at start-up: the functions they decorate with "
        "@function are those FUNCTION steps may name",
    )
    # LLM agents
    openai_base_url: str = setting(
        "https://api.openai.com", "where openai LLM agents without a baseUrl send requests"
    )
    anthropic_base_url: str = setting(
        "https://api.anthropic.com", "where anthropic LLM agents without a baseUrl send requests"
    )
    llm_timeout_seconds: int = setting(120, "how long one request to an LLM provider may take")
    # Metrics (docs/operations.md, "Metrics")
    metrics: bool = setting(True, "Prometheus metrics at GET /metrics (false removes them)")
    metrics_token: str | None = setting(
        None, "when set, GET /metrics wants Authorization: Bearer <token>", secret=True
    )
    metrics_allow: tuple[str, ...] = setting(
        (), "when set, only these comma-separated IP networks may read GET /metrics"
    )

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
        max_output = _int(
            source, "TURBOCAT_MAX_STEP_OUTPUT_BYTES", DEFAULT_MAX_STEP_OUTPUT_BYTES, minimum=1
        )
        host = source.get("TURBOCAT_HOST") or "127.0.0.1"
        port = _int(source, "TURBOCAT_PORT", 3001, minimum=1)
        return cls(
            env=env,
            data_dir=Path(source.get("TURBOCAT_DATA_DIR") or ".turbocat"),
            database_url=source.get("TURBOCAT_DATABASE_URL") or None,
            redis_url=source.get("TURBOCAT_REDIS_URL") or None,
            redis_prefix=(source.get("TURBOCAT_REDIS_PREFIX") or "turbocat").strip(),
            max_step_output_bytes=max_output,
            max_resolved_input_bytes=_int(
                source,
                "TURBOCAT_MAX_RESOLVED_INPUT_BYTES",
                RESOLVED_INPUT_OUTPUTS * max_output,
                minimum=1,
            ),
            retention_days=_int(source, "TURBOCAT_RETENTION_DAYS", 30, minimum=1),
            max_run_recoveries=_int(source, "TURBOCAT_MAX_RUN_RECOVERIES", 2, minimum=1),
            bcrypt_rounds=_int(source, "TURBOCAT_BCRYPT_ROUNDS", 12, minimum=4),
            seed_admin_password=source.get("TURBOCAT_SEED_ADMIN_PASSWORD") or None,
            seed_demo_password=source.get("TURBOCAT_SEED_DEMO_PASSWORD") or None,
            host=host,
            port=port,
            cors_origins=tuple(
                origin.strip()
                for origin in (source.get("TURBOCAT_CORS_ORIGINS") or "").split(",")
                if origin.strip()
            ),
            max_body_bytes=_int(
                source, "TURBOCAT_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, minimum=1024
            ),
            trust_proxy_headers=_bool(source, "TURBOCAT_TRUST_PROXY_HEADERS"),
            public_url=(source.get("TURBOCAT_PUBLIC_URL") or served_url(host, port)).rstrip("/"),
            log_level=(source.get("TURBOCAT_LOG_LEVEL") or "info").lower(),
            single_process=_bool(source, "TURBOCAT_SINGLE_PROCESS"),
            jwt_secret=source.get("TURBOCAT_JWT_SECRET") or None,
            encryption_key=source.get("TURBOCAT_ENCRYPTION_KEY") or None,
            previous_encryption_keys=tuple(
                key.strip()
                for key in (source.get("TURBOCAT_PREVIOUS_ENCRYPTION_KEYS") or "").split(",")
                if key.strip()
            ),
            access_token_ttl=_int(source, "TURBOCAT_ACCESS_TOKEN_TTL", 15 * 60, minimum=30),
            refresh_token_ttl=_int(source, "TURBOCAT_REFRESH_TOKEN_TTL", 7 * 24 * 3600, minimum=60),
            smtp_url=source.get("TURBOCAT_SMTP_URL") or None,
            mail_from=source.get("TURBOCAT_MAIL_FROM") or "Turbocat <no-reply@turbocat.local>",
            bootstrap_admin_email=source.get("TURBOCAT_BOOTSTRAP_ADMIN_EMAIL") or None,
            bootstrap_admin_password=source.get("TURBOCAT_BOOTSTRAP_ADMIN_PASSWORD") or None,
            code_sandbox=_code_sandbox(source, "TURBOCAT_CODE_SANDBOX"),
            http_allow_private=_bool(source, "TURBOCAT_HTTP_ALLOW_PRIVATE"),
            http_allowed_hosts=_hosts(source, "TURBOCAT_HTTP_ALLOWED_HOSTS"),
            functions=_modules(source, "TURBOCAT_FUNCTIONS"),
            openai_base_url=_base_url(source, "TURBOCAT_OPENAI_BASE_URL", "https://api.openai.com"),
            anthropic_base_url=_base_url(
                source, "TURBOCAT_ANTHROPIC_BASE_URL", "https://api.anthropic.com"
            ),
            llm_timeout_seconds=_int(source, "TURBOCAT_LLM_TIMEOUT_SECONDS", 120, minimum=1),
            metrics=_on_unless_off(source, "TURBOCAT_METRICS"),
            metrics_token=(source.get("TURBOCAT_METRICS_TOKEN") or "").strip() or None,
            metrics_allow=_networks(source, "TURBOCAT_METRICS_ALLOW"),
        )


def required_in_production() -> tuple[str, ...]:
    """The fields ``TURBOCAT_ENV=production`` refuses to start without."""
    return tuple(f.name for f in fields(Settings) if f.metadata["required_in_production"])


EXAMPLE_HEADER = """\
# Turbocat settings: every TURBOCAT_* variable, its default and what it does.
# Made by `turbocat settings --example` from the settings class: regenerate, do not edit.
# Copy it to .env (read from the working directory; real environment variables win) and
# uncomment what you change. With TURBOCAT_ENV=production the server refuses to start
# without those marked "required in production".
"""


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def example_env() -> str:
    """The ``.env.example`` text: each setting's line of documentation, then its variable
    with its default, commented out unless production requires it."""
    blocks = [EXAMPLE_HEADER]
    for f in fields(Settings):
        required = f.metadata["required_in_production"]
        doc = f.metadata["doc"] + (" (required in production)" if required else "")
        line = f"{variable(f.name)}={_shown(f.default)}"
        blocks.append(f"# {doc}\n{line if required else '# ' + line}\n")
    return "\n".join(blocks)
