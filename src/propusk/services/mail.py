"""Outgoing mail: a real SMTP client, or a file outbox when no SMTP server is configured.

Mail carries one-time codes, so it is never logged. The file outbox (``<data_dir>/outbox``,
files mode 0600) exists so a newcomer on the embedded default can confirm an account
without running a mail server; production deployments set ``smtp_host``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

from propusk.config import Settings

__all__ = ["FileMailer", "Mailer", "SmtpMailer", "create_mailer"]

log = logging.getLogger("propusk.mail")


class Mailer(Protocol):
    async def send(self, to: str, subject: str, body: str) -> None: ...


def _message(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="propusk")
    # 8bit, not quoted-printable: a code in a link must stay one unbroken line when the
    # mail is read as a file (the outbox) or grepped.
    msg.set_content(body, cte="8bit")
    return msg


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_host
        self._s = settings

    def _send_sync(self, msg: EmailMessage) -> None:
        s = self._s
        assert s.smtp_host
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout) as client:
            if s.smtp_starttls:
                client.starttls()
            if s.smtp_username and s.smtp_password:
                client.login(s.smtp_username, s.smtp_password.get_secret_value())
            client.send_message(msg)

    async def send(self, to: str, subject: str, body: str) -> None:
        msg = _message(self._s.mail_from, to, subject, body)
        try:
            await asyncio.to_thread(self._send_sync, msg)
        except (OSError, smtplib.SMTPException) as exc:
            # The account change already committed; a lost mail can be sent again
            # (resendEmail, password restore), so this is logged, not raised.
            log.warning("mail to the SMTP server failed: %s", type(exc).__name__)


class FileMailer:
    def __init__(self, outbox: Path, sender: str) -> None:
        self._outbox = outbox
        self._sender = sender

    def _write(self, msg: EmailMessage) -> None:
        self._outbox.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Sortable and portable (no ":" in file names): 20261124T041500Z-1a2b3c4d.eml
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"{stamp}-{os.urandom(4).hex()}.eml"
        fd = os.open(self._outbox / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(msg))

    async def send(self, to: str, subject: str, body: str) -> None:
        await asyncio.to_thread(self._write, _message(self._sender, to, subject, body))


def create_mailer(settings: Settings) -> Mailer:
    if settings.smtp_host:
        return SmtpMailer(settings)
    return FileMailer(settings.data_dir / "outbox", settings.mail_from)
