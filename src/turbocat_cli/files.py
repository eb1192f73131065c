"""Reading workflow files (JSON or YAML) and ``--input`` values, with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from turbocat_adapters import documents
from turbocat_core.errors import ValidationFailed


class InputError(Exception):
    """Bad command-line input: the message is the one line shown to the user."""


def read_document(path: Path) -> Any:
    """Parse a workflow file (``turbocat_adapters.documents.read_document``)."""
    try:
        return documents.read_document(path)
    except ValidationFailed as error:
        raise InputError(error.message) from None


def read_inputs(raw: str | None) -> dict[str, Any]:
    """``--input``: a JSON object, inline or ``@path`` to a file holding one."""
    if raw is None:
        return {}
    text = raw
    if raw.startswith("@"):
        try:
            text = Path(raw[1:]).read_text(encoding="utf-8")
        except OSError as error:
            raise InputError(f"--input {raw}: cannot read it ({error.strerror})") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"--input: invalid JSON: {error.msg} (column {error.colno})") from None
    if not isinstance(value, dict):
        raise InputError('--input must be a JSON object, e.g. \'{"name": "Ada"}\'')
    return value
