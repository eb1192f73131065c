"""NUL characters through PostgreSQL: a reversible escape for every text and jsonb value.

PostgreSQL refuses NUL in ``text`` (and so in every string column) and ``\\u0000`` in
``jsonb`` strings, while a step's output, stdout or error may hold them and the other stores
keep them. So every string this adapter sends is escaped and every string it reads is
unescaped, in the connections' own adapters: repositories never see the escape. ``MARK``
(U+FDD0, a Unicode noncharacter, reserved for a program's internal use) introduces each
escape: NUL is stored as ``MARK + "0"`` and ``MARK`` itself as ``MARK + MARK``. Strings
holding neither (all but a few) are stored as they are. docs/storage.md says what it means
for search and filters.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from psycopg import adapters as default_adapters
from psycopg.abc import Buffer
from psycopg.adapt import AdaptersMap, Dumper, Loader
from psycopg.types import string
from psycopg.types.json import set_json_dumps, set_json_loads

MARK: Final = "\ufdd0"
_MARK_UTF8: Final = MARK.encode()
_ESCAPED: Final = re.compile(MARK + "(.)", re.DOTALL)
_BACK: Final = {"0": "\x00", MARK: MARK}


def escape(text: str) -> str:
    """``text`` as PostgreSQL can store it (unchanged unless it holds NUL or ``MARK``)."""
    if "\x00" not in text and MARK not in text:
        return text
    return text.replace(MARK, MARK + MARK).replace("\x00", MARK + "0")


def unescape(text: str) -> str:
    """The string :func:`escape` was given."""
    if MARK not in text:
        return text
    return _ESCAPED.sub(lambda match: _BACK.get(match[1], match[0]), text)


def _map_strings(value: Any, change: Any) -> Any:
    """``value`` (decoded JSON) with ``change`` applied to every string, keys included."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {change(key): _map_strings(item, change) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_map_strings(item, change) for item in value]
    return value


def dumps(value: Any) -> str:
    """JSON for a ``jsonb`` parameter (``json.dumps`` escapes NUL and non-ASCII, so the
    text shows at once whether any string needs the escape)."""
    text = json.dumps(value)
    if "\\u0000" in text or "\\ufdd0" in text:
        text = json.dumps(_map_strings(value, escape))
    return text


def loads(data: str | bytes) -> Any:
    """A ``jsonb`` value read back (PostgreSQL writes ``MARK`` as raw UTF-8)."""
    value = json.loads(data)
    found = _MARK_UTF8 in data if isinstance(data, bytes) else MARK in data
    return _map_strings(value, unescape) if found else value


def _escaping_dumper(base: type[Dumper]) -> type[Dumper]:
    def dump(self: Dumper, obj: str) -> Buffer | None:
        return base.dump(self, escape(obj))

    return type(f"Escaping{base.__name__}", (base,), {"dump": dump})


def _unescaping_loader(base: type[Loader]) -> type[Loader]:
    def load(self: Loader, data: Buffer) -> Any:
        return unescape(base.load(self, data))

    return type(f"Unescaping{base.__name__}", (base,), {"load": load})


def adapters() -> AdaptersMap:
    """psycopg's adapters with the escape on every string and JSON value (the pool's
    connections copy them: ``connect(context=...)``)."""
    mapped = AdaptersMap(default_adapters)
    # The order matters as in psycopg's own registration: the last dumper registered for a
    # format is that format's default (text "unknown" is psycopg's default for str).
    for dumper in (
        string.StrBinaryDumperName,
        string.StrBinaryDumperVarchar,
        string.StrBinaryDumper,
        string.StrDumperName,
        string.StrDumperVarchar,
        string.StrDumper,
        string.StrDumperUnknown,
    ):
        mapped.register_dumper(str, _escaping_dumper(dumper))
    for loader in (string.TextLoader, string.TextBinaryLoader):
        escaped = _unescaping_loader(loader)
        for name in ("text", "varchar", "bpchar"):
            mapped.register_loader(name, escaped)
    set_json_dumps(dumps, mapped)
    set_json_loads(loads, mapped)
    return mapped
