"""PostgreSQL's side of the shared SQL layer: its codecs, fragments and placeholders."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from psycopg.types.json import Jsonb

from turbocat_adapters.sql.dialect import Codec, Dialect, id_hex
from turbocat_adapters.sql.retention import PRUNABLE
from turbocat_core.domain.analytics import PERCENTILES, Interval

_NAMED: Final = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (backslash is LIKE's default escape)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


QUERIES: Final = {
    "loop_agent": id_hex("s.config->>'agentId'"),
    "branches": (
        "jsonb_each(CASE WHEN jsonb_typeof(s.config->'branches') = 'object'"
        " THEN s.config->'branches' ELSE '{}'::jsonb END)"
    ),
    "branch_agent": id_hex("b.value->>'agentId'"),
    "run_order": "position",
    # Executions whose pinned steps hold an AGENT step of the agent (the containment test
    # can use an index; the EXISTS pins the step run's own key to that step).
    "agent_step": """
e.steps @> :needle
AND r.reused_from IS NULL AND r.status <> 'SKIPPED'
AND EXISTS (
    SELECT 1 FROM jsonb_array_elements(e.steps) AS s
    WHERE s->>'stepKey' = r.step_key AND s->>'stepType' = 'AGENT' AND s->>'agentId' = :agent
)""",
    "percentiles": f"""
SELECT grp, p, percentile_cont(p / 100.0::float8) WITHIN GROUP (ORDER BY v)
FROM picked CROSS JOIN (VALUES {", ".join(f"({percent})" for percent in PERCENTILES)}) AS wanted(p)
GROUP BY grp, p""",
    "doomed": "(SELECT unnest(CAST(:ids AS uuid[])))",
    # Lines of an execution that has no row are numbered after its last line, under a
    # transaction-scoped advisory lock on the execution instead of its row lock.
    "lock_unrowed_logs": "SELECT pg_advisory_xact_lock(29795, CAST(:key AS int))",
    # One batch at a time across every process: two prunes running at once could each lock
    # a row the other's reference updates then wait for (a deadlock). Released at commit.
    "lock_prune": "SELECT pg_advisory_xact_lock(28786, 0)",
    # The rows picked stay locked until the transaction ends; rows another transaction holds
    # (a late log line, say) are skipped, not waited for: a later batch takes them.
    "prunable": PRUNABLE + " FOR UPDATE SKIP LOCKED",
    "skip_locked": " FOR UPDATE SKIP LOCKED",
}


def _jsonb(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def _strings(values: Any) -> tuple[str, ...]:
    return tuple(values) if values else ()


class PostgresDialect(Dialect):
    """Native ids, times, booleans and ``text[]``; ``jsonb`` (NUL characters escaped by the
    connections' adapters, see ``nul``); text sorted ``COLLATE "C"``; search by ILIKE."""

    name = "postgres"
    queries = QUERIES
    text_order = ' COLLATE "C"'
    window_count = True

    @functools.lru_cache(maxsize=512)  # noqa: B019 - one instance, for the process
    def sql(self, text: str) -> str:
        """``:name`` placeholders as psycopg's ``%(name)s`` (and ``%`` doubled)."""
        return _NAMED.sub(r"%(\1)s", text.replace("%", "%%"))

    encoders: ClassVar[Mapping[str, Codec]] = {"json": _jsonb, "texts": list}
    decoders: ClassVar[Mapping[str, Codec]] = {"texts": _strings}

    def array(self, values: list[Any]) -> Any:
        return values

    def bucket(self, interval: Interval) -> str:
        return f"date_trunc('{interval.value}', e.created_at, 'UTC')"

    def bucket_start(self, value: Any) -> datetime:
        bucket: datetime = value.astimezone(UTC)
        return bucket

    def contains(self, column: str) -> str:
        return f"{column} ILIKE :search"

    def search_param(self, text: str) -> str:
        return f"%{escape_like(text)}%"

    def has_tag(self, table: str, param: str) -> str:
        return f"{table}.tags @> ARRAY[:{param}]::text[]"


POSTGRES: Final = PostgresDialect()
