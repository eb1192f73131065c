"""SQL fragments the SQLite and PostgreSQL stores share (both dialects read them alike)."""

from __future__ import annotations


def id_hex(expression: str) -> str:
    """SQL reducing a UUID written as text in JSON (any case, with or without hyphens,
    braces or a ``urn:uuid:`` prefix) to its 32 lower-case hex digits, as ``UUID()`` reads
    it; compare with ``UUID.hex``."""
    return (
        f"replace(replace(replace(replace(replace(lower({expression}), 'urn:', ''), 'uuid:', ''),"
        " '{', ''), '}', ''), '-', '')"
    )
