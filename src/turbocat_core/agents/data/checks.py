"""A small collector of config problems, each named by a dotted path."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from turbocat_core.agents.data.values import is_reference, path_problem, type_name
from turbocat_core.errors import FieldError

REQUIRED = "required option is missing"


class Checks:
    """Checks one object of config (a step, a condition...) found at dotted path ``at``.

    ``allow_refs`` is set at creation time, when a value may still be a ``{{reference}}``
    that the engine fills in before the run; ``run_data`` checks the filled-in config.
    """

    def __init__(
        self, config: dict[str, Any], at: str, problems: list[FieldError], *, allow_refs: bool
    ) -> None:
        self.config = config
        self.at = at
        self.problems = problems
        self.allow_refs = allow_refs

    def path(self, key: str | int) -> str:
        """The dotted path of ``key`` inside this object."""
        return f"{self.at}.{key}" if self.at else str(key)

    def add(self, key: str | int, message: str) -> None:
        """Record a problem with ``key``."""
        self.problems.append(FieldError(self.path(key), message))

    def nested(self, key: str | int, value: Any) -> Checks | None:
        """Checks for an object found under ``key``; records a problem if it is not one."""
        if not isinstance(value, dict):
            self.add(key, f"expected an object, got {type_name(value)}")
            return None
        return Checks(value, self.path(key), self.problems, allow_refs=self.allow_refs)

    def only(self, allowed: Iterable[str]) -> None:
        """Refuse keys outside ``allowed``: a misspelt option should not pass silently."""
        names = tuple(allowed)
        for key in self.config:
            if key not in names:
                self.add(key, f"unknown option; expected one of {', '.join(names)}")

    def required(self, key: str) -> bool:
        """Whether ``key`` is present; records a problem if not."""
        if key not in self.config:
            self.add(key, REQUIRED)
            return False
        return True

    def choice(self, key: str, choices: tuple[str, ...], what: str, *, required: bool) -> None:
        """``key`` must be one of ``choices``."""
        if key not in self.config:
            if required:
                self.add(key, REQUIRED)
            return
        value = self.config[key]
        if not isinstance(value, str) or value not in choices:
            self.add(key, f"unknown {what} {value!r}; expected one of {', '.join(choices)}")

    def field_path(self, key: str, *, required: bool) -> None:
        """``key`` must be a dotted field path."""
        if key not in self.config:
            if required:
                self.add(key, REQUIRED)
            return
        self.check_path(key, self.config[key])

    def check_path(self, key: str | int, value: Any) -> None:
        """``value`` (found under ``key``) must be a dotted field path."""
        problem = path_problem(value)
        if problem is not None:
            self.add(key, problem)

    def field_paths(self, key: str, *, required: bool, single: bool) -> None:
        """``key`` must be a non-empty array of field paths (or one path when ``single``)."""
        if key not in self.config:
            if required:
                self.add(key, REQUIRED)
            return
        value = self.config[key]
        if single and isinstance(value, str):
            self.check_path(key, value)
        elif not isinstance(value, list) or not value:
            one = "a field path or " if single else ""
            self.add(key, f"expected {one}a non-empty array of field paths")
        else:
            for index, path in enumerate(value):
                self.check_path(f"{key}.{index}", path)

    def boolean(self, key: str) -> None:
        """``key``, when present, must be a boolean."""
        if key in self.config and not isinstance(self.config[key], bool):
            self.add(key, f"expected a boolean, got {type_name(self.config[key])}")

    def typed(self, key: str, expected: type, name: str) -> None:
        """``key``, when present, must be of ``expected`` type (or a reference, before a run)."""
        if key not in self.config:
            return
        value = self.config[key]
        if isinstance(value, expected) or (self.allow_refs and is_reference(value)):
            return
        self.add(key, f"expected {name}, got {type_name(value)}")
