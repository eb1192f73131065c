"""``JsonSchemas`` with the ``jsonschema`` library (Draft 2020-12, formats not asserted)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

MAX_PROBLEMS: Final = 10


def _where(path: Any) -> str:
    return ".".join(str(part) for part in path) or "(the value)"


class JsonSchemaChecks:
    """Checks schemas and the values given for them; every problem a value has, in
    path order, at most ``MAX_PROBLEMS``."""

    def schema_problems(self, schema: Any) -> list[str]:
        if not isinstance(schema, dict):
            return ["a JSON Schema must be an object"]
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as error:
            return [f"{_where(error.absolute_path)}: {error.message}"]
        return []

    def problems(self, schema: Mapping[str, Any], value: Any) -> list[str]:
        validator = Draft202012Validator(dict(schema))
        found = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path)))
        return [f"{_where(error.absolute_path)}: {error.message}" for error in found][:MAX_PROBLEMS]
