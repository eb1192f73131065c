"""The connection protocol the repositories are written against, and what a script is."""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from turbocat_adapters.sql.dialect import Dialect

T = TypeVar("T")
Row = tuple[Any, ...]
Params = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Statement:
    """One named query (``:name`` placeholders) and its parameters.

    ``many``: ``params`` is a sequence of parameter sets (``executemany``). ``quiet``: the
    script does not read the result, so the driver need not wait for it.
    """

    sql: str
    params: Params | Sequence[Params] = field(default_factory=dict)
    many: bool = False
    quiet: bool = False


@dataclass(frozen=True, slots=True)
class Result:
    rows: list[Row]
    rowcount: int


Script = Generator[Statement, Result, T]
"""Several statements as a generator: it yields each one and is sent its result. The
driver runs the whole script in one go (SQLite: one hop to its thread; PostgreSQL: one
pipeline), all or nothing, and its reads see one state of the database."""


class Connection(Protocol):
    """What a unit of work's repositories need from a driver (``SqliteConnection``,
    ``PostgresConnection``). Every call raises ``RuntimeError`` outside ``async with``."""

    @property
    def dialect(self) -> Dialect: ...

    def require(self) -> object:
        """``RuntimeError`` outside ``async with`` of the unit of work."""
        ...

    async def fetch(self, sql: str, params: Params) -> list[Row]:
        """The rows of one read."""
        ...

    async def change(self, sql: str, params: Params) -> int:
        """One write statement in the transaction (begun if need be); rows it changed. A
        refused write undoes only itself."""
        ...

    async def send(self, sql: str, params: Params) -> None:
        """A write whose result nobody reads: inside ``deferred()`` it may wait for the
        transaction's next call."""
        ...

    async def run(self, script: Script[T], *, write: bool) -> T:
        """``script``'s statements together; ``write``: in the transaction (begun if need
        be), a failure undoing all of them."""
        ...
