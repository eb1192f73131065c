"""How an agent reports a failed run to the engine: a message, a kind, and whether to retry."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from turbocat_core.errors import TurbocatError

INTERNAL_BODY: Final = "body not shown: the answer came from a non-public address"
"""Said in place of the body of a failed answer from an address the SSRF guard let through
only because the operator allowed it: an internal service's answer never reaches a step's
error."""


class FailureKind(StrEnum):
    """What went wrong, as a step's ``config.retryOn`` names it (``any`` matches them all)."""

    TIMEOUT = "timeout"
    NETWORK = "network"
    HTTP_429 = "http_429"
    HTTP_5XX = "http_5xx"
    ANY = "any"
    ERROR = "error"
    """Any other failure: bad data, a failed assertion, an exception in user code."""


class AgentFailure(TurbocatError):
    """An agent run failed. ``retryable=False`` means trying again cannot help (bad config)."""

    def __init__(
        self,
        message: str,
        *,
        kind: FailureKind = FailureKind.ERROR,
        retryable: bool = True,
        output: Any = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable
        self.output = output
        """What the failed step's ``output`` holds (an LLM conversation's transcript)."""
