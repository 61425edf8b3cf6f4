"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, with scripted refusals and drops."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from referral_plugin.mailer import SmtpConfig, SmtpMailer

SENDER = "referrals@shop.example.test"


@dataclass
class RecordingHandler:
    """An SMTP server's DATA step: refuse or drop the next N messages, else keep them."""

    received: list[Message] = field(default_factory=list)
    refuse: int = 0
    drop: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            self.refuse -= 1
            return "554 5.7.1 transaction failed"
        if self.drop:
            self.drop -= 1
            server.transport.close()
            return "421 closing"
        message = email.message_from_bytes(envelope.original_content)
        message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        self.received.append(message)
        return "250 OK"


@dataclass(frozen=True)
class SmtpServer:
    handler: RecordingHandler
    port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?from={SENDER}&timeout=5"

    def mailer(self) -> SmtpMailer:
        return SmtpMailer(SmtpConfig(host="127.0.0.1", port=self.port, sender=SENDER, timeout=5))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(name="smtp_server")
def smtp_server_fixture() -> Iterator[SmtpServer]:
    """A running server; import `smtp_server_fixture` into a test module to use it."""
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(handler=handler, port=port)
    finally:
        controller.stop()
