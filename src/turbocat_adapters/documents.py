"""Workflow files on disk (JSON or YAML) read into documents, and a document's fingerprint."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from turbocat_core.errors import FieldError, ValidationFailed


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
    text). ``ValidationFailed`` if it cannot be written as JSON (a cycle)."""
    try:
        text = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
    except (TypeError, ValueError) as error:
        raise ValidationFailed.field("$", f"a workflow file is JSON data: {error}") from None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def unregistered_at_steps(error: ValidationFailed, document: Any) -> ValidationFailed:
    """A function that is not registered, reported at the steps that call it."""
    steps = document.get("steps") if isinstance(document, dict) else None
    agents = document.get("agents") if isinstance(document, dict) else None
    if not isinstance(steps, list) or not isinstance(agents, dict):
        return error
    details: list[FieldError] = []
    for detail in error.details:
        parts = detail.field.split(".")
        if parts[:1] != ["agents"] or parts[2:] != ["config", "function"]:
            details.append(detail)
            continue
        agent = agents.get(parts[1])
        name = agent.get("config", {}).get("function") if isinstance(agent, dict) else None
        callers: list[tuple[int | None, Any]] = [
            (index, step.get("stepKey"))
            for index, step in enumerate(steps)
            if isinstance(step, dict) and step.get("agent") == parts[1]
        ]
        for index, key in callers or [(None, None)]:
            at = f"steps.{index}" if index is not None else detail.field
            who = f"step {key!r}" if key is not None else f"agent {parts[1]!r}"
            details.append(
                FieldError(
                    at,
                    f"{who} calls function {name!r}, which is not registered "
                    "(register it with @tc.function)",
                )
                if "not registered" in detail.message
                else FieldError(at, detail.message)
            )
    first = details[0]
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return ValidationFailed(f"{first.field}: {first.message}{more}", details)
