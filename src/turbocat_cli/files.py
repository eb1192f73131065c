"""Reading workflow files (JSON or YAML) and ``--input`` values, with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


class InputError(Exception):
    """Bad command-line input: the message is the one line shown to the user."""


def read_document(path: Path) -> Any:
    """Parse a workflow file: ``.json`` as JSON, ``.yaml``/``.yml`` as YAML, others by content."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read it ({error})") from None
    suffix = path.suffix.lower()
    if suffix == ".json" or (suffix not in (".yaml", ".yml") and text.lstrip().startswith("{")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(
                f"{path}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}"
            ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise InputError(f"{where}: invalid YAML: {problem}") from None


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
