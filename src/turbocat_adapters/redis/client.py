"""The Redis client, key naming under the deployment's prefix, and error translation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError

from turbocat_core.errors import ExternalServiceError

SERVICE: Final = "redis"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def redis_client(url: str) -> Redis:
    """A client over a connection pool for ``url`` (``redis://``, ``rediss://``, ``unix://``).

    Nothing connects until the first command. Replies are decoded as UTF-8 strings. Timeouts
    are short and retries few, so a Redis that is down fails a request within seconds (as
    ``ExternalServiceError``) instead of holding it. Close it with ``await client.aclose()``.
    """
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
        retry=Retry(ExponentialWithJitterBackoff(cap=0.5, base=0.05), retries=2),
        health_check_interval=30,
    )


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names: ``keys("session", id)`` is ``"<prefix>:session:<id>"``."""

    prefix: str

    def __call__(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def namespace(self, *parts: str) -> str:
        """The start of every key under ``parts`` (``"<prefix>:session:"``), for Lua scripts
        that name keys from what they read."""
        return self(*parts, "")


@contextmanager
def translated() -> Iterator[None]:
    """Raise any ``RedisError`` inside as ``ExternalServiceError`` (its text is for logs)."""
    try:
        yield
    except RedisError as error:
        raise ExternalServiceError(
            f"Redis failed: {type(error).__name__}: {error}", service=SERVICE
        ) from None


def text(value: bytes | str) -> str:
    """A reply as text (the client decodes replies; its types cannot say so)."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def micros(moment: datetime) -> int:
    """Whole microseconds since the Unix epoch (exact, unlike ``timestamp()``)."""
    return (moment - _EPOCH) // _MICROSECOND
