"""Ids and randomness: what a test makes repeatable by injecting its own."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID


class IdGenerator(Protocol):
    """New unique ids (time-ordered where the adapter can, for index locality)."""

    def new_id(self) -> UUID: ...


class RandomSource(Protocol):
    """Randomness: ``random()`` in [0, 1) for jitter, ``token()`` for secrets (CSPRNG)."""

    def random(self) -> float: ...

    def token(self, nbytes: int) -> str:
        """``nbytes`` random bytes as URL-safe base64 without padding."""
        ...
