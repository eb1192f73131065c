"""SQLite's side of the shared SQL layer: its codecs, fragments and named queries, and the
connection the repositories run on (each call one hop to the store's worker thread)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, TypeVar
from uuid import UUID

from turbocat_adapters.sql.connection import Params, Result, Row, Script
from turbocat_adapters.sql.dialect import Codec, Dialect, Kind, id_hex
from turbocat_adapters.sql.retention import PRUNABLE
from turbocat_adapters.sqlite.transaction import Transaction
from turbocat_core.domain.analytics import PERCENTILES, Interval
from turbocat_core.errors import ValidationFailed

T = TypeVar("T")

_ENCODE: Final = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=True
).encode


def ts(value: datetime) -> str:
    """ISO 8601 in UTC with microseconds, always the same width: text order is time order
    (a naive datetime is taken to be UTC)."""
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "+00:00"


def js(value: Any, field: str) -> str:
    """Compact JSON; ``ValidationFailed`` naming ``field`` for what JSON cannot hold."""
    try:
        return _ENCODE(value)
    except (TypeError, ValueError) as error:
        raise ValidationFailed.field(field, f"must be JSON ({error})") from None


QUERIES: Final = {
    "loop_agent": id_hex("json_extract(s.config, '$.agentId')"),
    "branches": "json_each(s.config, '$.branches')",
    "branch_agent": id_hex(
        "CASE WHEN b.type = 'object' THEN json_extract(b.value, '$.agentId') END"
    ),
    "run_order": "run_no",
    # Executions whose pinned steps hold an AGENT step of the agent, the step run's own.
    "agent_step": """
instr(e.steps, :agent) > 0
AND r.reused_from IS NULL AND r.status <> 'SKIPPED'
AND EXISTS (
    SELECT 1 FROM json_each(e.steps) AS s
    WHERE json_extract(s.value, '$.stepKey') = r.step_key
        AND json_extract(s.value, '$.stepType') = 'AGENT'
        AND json_extract(s.value, '$.agentId') = :agent
)""",
    # No percentile_cont: each value gets its rank and its group's size, and the two values
    # around position p * (n - 1) / 100 (integer arithmetic) are interpolated in SQL.
    "percentiles": f"""
, ranked AS (
    SELECT grp, v,
        row_number() OVER (PARTITION BY grp ORDER BY v) - 1 AS i,
        count(*) OVER (PARTITION BY grp) AS n
    FROM picked
), wanted(p) AS (VALUES {", ".join(f"({percent})" for percent in PERCENTILES)}),
around AS (
    SELECT grp, p,
        max(CASE WHEN i = p * (n - 1) / 100 THEN v END) AS low,
        max(CASE WHEN i = p * (n - 1) / 100 + 1 THEN v END) AS high,
        max(p * (n - 1) % 100) AS rest
    FROM ranked CROSS JOIN wanted
    WHERE i BETWEEN p * (n - 1) / 100 AND p * (n - 1) / 100 + 1
    GROUP BY grp, p
)
SELECT grp, p,
    CASE WHEN rest = 0 THEN low ELSE low + (high - low) * rest / 100.0 END
FROM around""",
    "doomed": "(SELECT value FROM json_each(:ids))",
    # ``+status`` keeps SQLite off the status index (most rows are finished: it would walk
    # them all when nothing is left to prune) and on the completed_at one.
    "prunable": PRUNABLE.replace("WHERE status IN", "WHERE +status IN", 1),
    "skip_locked": "",  # one writer at a time: nothing to skip
}


_BUCKETS: Final[dict[Interval, str]] = {
    Interval.HOUR: "strftime('%Y-%m-%dT%H:00:00', e.created_at)",
    Interval.DAY: "date(e.created_at)",
    # back to Monday: %w is 0 on Sunday
    Interval.WEEK: (
        "date(e.created_at, '-' || ((CAST(strftime('%w', e.created_at) AS INTEGER) + 6) % 7)"
        " || ' days')"
    ),
    Interval.MONTH: "strftime('%Y-%m-01', e.created_at)",
}


class SqliteDialect(Dialect):
    """Ids and times as text (in the same order as the values), JSON as text, booleans as
    0/1; search through ``tc_contains`` (Python's case folding, see ``worker.contains``)."""

    name = "sqlite"
    queries = QUERIES

    encoders: ClassVar[Mapping[str, Codec]] = {"uuid": str, "time": ts}
    decoders: ClassVar[Mapping[str, Codec]] = {
        "uuid": UUID,
        "time": datetime.fromisoformat,
        "json": json.loads,
        "texts": lambda text: tuple(json.loads(text)),
        "bool": bool,
    }

    def encoder(self, kind: Kind, field: str) -> Codec | None:
        if kind == "json":
            return lambda value: js(value, field)
        if kind == "texts":
            return lambda values: js(list(values), field)
        return super().encoder(kind, field)

    def array(self, values: list[Any]) -> Any:
        return js(values, "ids")

    def bucket(self, interval: Interval) -> str:
        return _BUCKETS[interval]

    def bucket_start(self, value: Any) -> datetime:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    def contains(self, column: str) -> str:
        return f"tc_contains({column}, :search)"

    def search_param(self, text: str) -> str:
        return text.lower()

    def has_tag(self, table: str, param: str) -> str:
        return f"EXISTS (SELECT 1 FROM json_each({table}.tags) AS tag WHERE tag.value = :{param})"


SQLITE: Final = SqliteDialect()


def drive(script: Script[T], connection: sqlite3.Connection) -> T:
    """Every statement of ``script`` on ``connection`` (on the worker thread)."""
    try:
        statement = next(script)
        while True:
            if statement.many:
                cursor = connection.executemany(statement.sql, statement.params)
            else:
                cursor = connection.execute(statement.sql, statement.params)
            rows = cursor.fetchall()
            statement = script.send(Result(rows, cursor.rowcount))
    except StopIteration as stop:
        result: T = stop.value
        return result


class SqliteConnection:
    """The ``Connection`` of one SQLite unit of work (see ``Transaction``)."""

    __slots__ = ("tx",)
    dialect: Final = SQLITE

    def __init__(self, tx: Transaction) -> None:
        self.tx = tx

    def require(self) -> None:
        self.tx.require()

    async def fetch(self, sql: str, params: Params) -> list[Row]:
        tx = self.tx
        tx.require()
        return await tx.read(lambda connection: connection.execute(sql, params).fetchall())

    async def change(self, sql: str, params: Params) -> int:
        tx = self.tx
        tx.require()
        return await tx.write(lambda connection: connection.execute(sql, params).rowcount)

    async def send(self, sql: str, params: Params) -> None:
        tx = self.tx
        tx.require()
        await tx.send(lambda connection: connection.execute(sql, params))

    async def run(self, script: Script[T], *, write: bool) -> T:
        tx = self.tx
        tx.require()
        if write:
            return await tx.write(lambda connection: drive(script, connection), atomic=True)
        return await tx.read(lambda connection: drive(script, connection), snapshot=True)
