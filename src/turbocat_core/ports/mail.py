"""Outgoing email (password resets, invitations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class Email:
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    """Sends email. ``send`` hands the message over and returns without waiting for the
    mail server, so a caller's response time does not reveal whether a message was sent."""

    async def send(self, email: Email) -> None: ...
