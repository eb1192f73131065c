"""Claims held in this process's memory, expiring on the injected clock."""

from __future__ import annotations

from collections.abc import Sequence

from turbocat_core import ports


class MemoryClaims:
    """``ports.Claims`` for one process (``turbocat serve`` alone, tests)."""

    def __init__(self, clock: ports.Clock) -> None:
        self._clock = clock
        self._held: dict[str, tuple[str, float]] = {}  # name -> (holder, expires at)

    def _current(self, name: str) -> str | None:
        entry = self._held.get(name)
        if entry is None:
            return None
        if entry[1] <= self._clock.monotonic():
            del self._held[name]
            return None
        return entry[0]

    async def claim(self, name: str, holder: str, ttl: float, *, over: str = "") -> bool:
        current = self._current(name)
        if current is None or current == holder or (over and current.startswith(over)):
            self._held[name] = (holder, self._clock.monotonic() + ttl)
            return True
        return False

    async def renew(self, name: str, holder: str, ttl: float) -> bool:
        if self._current(name) != holder:
            return False
        self._held[name] = (holder, self._clock.monotonic() + ttl)
        return True

    async def release(self, name: str, holder: str) -> None:
        if self._current(name) == holder:
            del self._held[name]

    async def holders(self, names: Sequence[str]) -> list[str | None]:
        return [self._current(name) for name in names]


def _conforms(claims: MemoryClaims) -> ports.Claims:
    """Never called: mypy checks here that the class matches its port."""
    return claims
