"""Mailers: SMTP for real delivery, the console for development, an outbox for tests."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from turbocat_core.ports.mail import Email

log = logging.getLogger("turbocat.mail")


class SmtpMailer:
    """Sends through ``smtp://user:password@host:587`` (STARTTLS) or ``smtps://…:465``.

    ``send`` hands the message to a background task and returns at once; a failure to
    deliver is logged (without the body, which may hold a reset link).
    """

    def __init__(self, url: str, sender: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("TURBOCAT_SMTP_URL must be smtp://… or smtps://…")
        self._tls = parts.scheme == "smtps"
        self._host = parts.hostname
        self._port = parts.port or (465 if self._tls else 587)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._sender = sender
        self._pending: set[asyncio.Task[None]] = set()

    async def send(self, email: Email) -> None:
        task = asyncio.create_task(asyncio.to_thread(self._deliver, email))
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("could not send mail via %s:%s: %s", self._host, self._port, task.exception())

    def _deliver(self, email: Email) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self._sender, email.to, email.subject
        message.set_content(email.body)
        context = ssl.create_default_context()
        if self._tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self._host, self._port, context=context, timeout=20
            )
        else:
            client = smtplib.SMTP(self._host, self._port, timeout=20)
        with client:
            if not self._tls and client.has_extn("starttls"):
                client.starttls(context=context)
            if self._user and self._password:
                client.login(self._user, self._password)
            client.send_message(message)

    async def drain(self) -> None:
        """Wait for the messages handed over so far (tests, shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


class ConsoleMailer:
    """Development only: writes each message, body included, to the ``turbocat.mail`` log,
    so a developer without a mail server can follow a reset link."""

    async def send(self, email: Email) -> None:
        log.warning("mail to %s: %s\n%s", email.to, email.subject, email.body)


class NoMailer:
    """Production without ``TURBOCAT_SMTP_URL``: nothing can be delivered; says so in the
    log (never the message, which may hold a reset link)."""

    async def send(self, email: Email) -> None:
        log.error("cannot send %r to a user: TURBOCAT_SMTP_URL is not set", email.subject)


class Outbox:
    """Keeps messages in memory (tests and embedding); ``messages`` in the order sent."""

    def __init__(self) -> None:
        self.messages: list[Email] = []

    async def send(self, email: Email) -> None:
        self.messages.append(email)
