"""Password hashing with bcrypt, off the event loop in a bounded pool of threads."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import bcrypt

from turbocat_core.domain.user import PASSWORD_MAX_BYTES
from turbocat_core.errors import ValidationFailed

DEFAULT_ROUNDS = 12


class BcryptHasher:
    """``PasswordHasher`` with bcrypt at ``rounds`` (cost 12: about a quarter of a second).

    Hashing runs on at most ``max_concurrency`` threads, so a burst of logins queues up
    instead of starving the event loop or every core. ``verify`` answers ``False`` for a
    wrong password, an over-long one (bcrypt reads only 72 bytes) or an unusable hash: it
    never raises for bad input.
    """

    def __init__(self, rounds: int = DEFAULT_ROUNDS, max_concurrency: int = 4) -> None:
        if not 4 <= rounds <= 31:
            raise ValueError("bcrypt rounds are between 4 and 31")
        self.rounds = rounds
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="bcrypt")

    async def hash(self, password: str) -> str:
        secret = password.encode("utf-8")
        if len(secret) > PASSWORD_MAX_BYTES:
            raise ValidationFailed.field("password", f"must be at most {PASSWORD_MAX_BYTES} bytes")
        loop = asyncio.get_running_loop()
        hashed = await loop.run_in_executor(self._pool, self._hash, secret)
        return hashed.decode("ascii")

    def _hash(self, secret: bytes) -> bytes:
        return bcrypt.hashpw(secret, bcrypt.gensalt(self.rounds))

    async def verify(self, password: str, password_hash: str) -> bool:
        secret = password.encode("utf-8")
        if not secret or len(secret) > PASSWORD_MAX_BYTES:
            return False
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _check, secret, password_hash)

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def _check(secret: bytes, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(secret, password_hash.encode("ascii"))
    except (ValueError, UnicodeEncodeError):  # not a bcrypt hash
        return False
