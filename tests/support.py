"""Test helpers shared by the suite: a movable clock and an in-process SMTP server."""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


class ManualClock:
    """A clock that starts at the real time and moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime.now(UTC)).replace(microsecond=0)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


@dataclass
class Mail:
    to: list[str]
    message: Message

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        payload = self.message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode("utf-8")

    def code(self, prefix: str) -> str:
        match = re.search(re.escape(prefix) + r"[A-Za-z0-9_\-]+", self.body)
        assert match, f"no {prefix} code in mail: {self.body!r}"
        return match.group(0)


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self._box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self._box.add(Mail(list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


class Mailbox:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

    def __init__(self) -> None:
        self._mails: list[Mail] = []
        self._lock = threading.Lock()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def add(self, mail: Mail) -> None:
        with self._lock:
            self._mails.append(mail)

    def clear(self) -> None:
        with self._lock:
            self._mails.clear()

    def to(self, address: str, *, timeout: float = 5.0) -> list[Mail]:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [m for m in self._mails if address in m.to]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def last(self, address: str) -> Mail:
        found = self.to(address)
        assert found, f"no mail to {address}"
        return found[-1]
