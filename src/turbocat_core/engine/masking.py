"""Keeping secrets (``{{env.*}}`` values) out of logs and stored error messages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

MASK: Final = "********"
MIN_SECRET_CHARS: Final = 4  # masking "a" or "1" everywhere would wreck every message


class Masker:
    """Replaces every known secret value inside text and JSON values with ``********``."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        found = {s for s in secrets if len(s) >= MIN_SECRET_CHARS}
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(found, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def json(self, value: Any) -> Any:
        if not self._secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.json(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.json(item) for item in value]
        return value
