"""The error family every layer speaks: the core raises these, the front ends map them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one input field: ``field`` is a dotted path, e.g. ``steps.2.dependsOn``."""

    field: str
    message: str


class TurbocatError(Exception):
    """Base of every error the core raises on purpose; ``message`` is safe to show a user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(TurbocatError):
    """The resource does not exist, is soft-deleted, or is not visible to the caller."""

    def __init__(self, resource: str, resource_id: object | None = None) -> None:
        what = f"{resource} {resource_id}" if resource_id is not None else resource
        super().__init__(f"{what} not found")
        self.resource = resource
        self.resource_id = resource_id


class ValidationFailed(TurbocatError):
    """Input broke a rule; ``details`` names each offending field."""

    def __init__(self, message: str, details: Sequence[FieldError] = ()) -> None:
        super().__init__(message)
        self.details: tuple[FieldError, ...] = tuple(details)

    @classmethod
    def field(cls, field: str, message: str) -> ValidationFailed:
        """One field, one message: the message doubles as the summary."""
        return cls(f"{field}: {message}", [FieldError(field, message)])


class CycleDetected(ValidationFailed):
    """The workflow's steps depend on each other in a loop; ``path`` is one such loop."""

    def __init__(self, path: Sequence[str]) -> None:
        self.path: tuple[str, ...] = tuple(path)
        rendered = " -> ".join(self.path)
        super().__init__(
            f"steps form a cycle: {rendered}", [FieldError("steps", f"cycle: {rendered}")]
        )


class Conflict(TurbocatError):
    """The write clashes with the current state: a concurrent writer, a resource in use."""


class AlreadyExists(Conflict):
    """The write would break a uniqueness rule: a row with that key is already stored."""


class InvalidState(TurbocatError):
    """The resource is in a state that does not allow the operation (e.g. cancel a finished run)."""


class Unauthenticated(TurbocatError):
    """No valid credentials; ``code`` refines it (INVALID_CREDENTIALS, TOKEN_EXPIRED...)."""

    def __init__(
        self, message: str = "authentication required", code: str = "UNAUTHORIZED"
    ) -> None:
        super().__init__(message)
        self.code = code


class PermissionDenied(TurbocatError):
    """The caller is known but may not do this."""


class RateLimited(TurbocatError):
    """Too many requests; retry after ``retry_after`` seconds."""

    def __init__(
        self, retry_after: float, message: str = "rate limit exceeded", limit: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.limit = limit


class ExternalServiceError(TurbocatError):
    """A dependency (database, queue, remote API) failed; ``retryable``: may a retry help."""

    def __init__(self, message: str, *, service: str = "", retryable: bool = True) -> None:
        super().__init__(message)
        self.service = service
        self.retryable = retryable


class NotConfigured(TurbocatError):
    """A capability this deployment does not provide was asked for (e.g. no ``node``)."""


class NonRetryableError(Exception):
    """Raised by a FUNCTION step's Python function: the attempt fails and is not retried,
    whatever the step's ``retryCount`` (any other exception fails it retryably)."""


def did_you_mean(name: object, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the known name closest to a misspelt one, else ``""``:
    appended to a problem's message so a typo names its fix."""
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
