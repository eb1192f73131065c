"""Workflow files on disk (JSON or YAML) read into documents, and a document's fingerprint."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from turbocat_core.errors import ValidationFailed


def read_document(path: Path) -> Any:
    """Parse a workflow file: ``.json`` as JSON, ``.yaml``/``.yml`` as YAML, others by content.

    A missing, unreadable or malformed file is ``ValidationFailed`` whose message is one line
    naming the file (and the line and column of a syntax error).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _bad(path, f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise _bad(path, f"{path}: cannot read it ({error})") from None
    suffix = path.suffix.lower()
    if suffix == ".json" or (suffix not in (".yaml", ".yml") and text.lstrip().startswith("{")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            where = f"{path}:{error.lineno}:{error.colno}"
            raise _bad(path, f"{where}: invalid JSON: {error.msg}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise _bad(path, f"{where}: invalid YAML: {problem}") from None


def _bad(path: Path, message: str) -> ValidationFailed:
    error = ValidationFailed.field(str(path), message)
    error.message = message  # the one line, without the field repeated in front
    error.args = (message,)
    return error


def fingerprint(document: Any) -> str:
    """SHA-256 of the document as canonical JSON (sorted keys, compact): equal documents,
    however their keys were ordered, have equal fingerprints (YAML dates count as their
    text). ``ValidationFailed`` if it cannot be written as JSON (a NaN, a cycle)."""
    try:
        text = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
    except (TypeError, ValueError) as error:
        raise ValidationFailed.field("$", f"a workflow file is JSON data: {error}") from None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
