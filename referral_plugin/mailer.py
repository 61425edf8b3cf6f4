"""Sending one email over SMTP: the adapter the outbox job drives (smtplib, with a timeout).

`SMTP_URL` forms: `smtp://user:pass@host:587` (STARTTLS on port 587 or with `?starttls=1`),
`smtps://user:pass@host:465` (implicit TLS), `smtp://host:25` (no auth); `?from=addr` sets the
sender (default `no-reply@<PUBLIC_BASE_URL host>`), `?timeout=30` the socket timeout in seconds.

SMTP cannot be exactly-once: if the process dies after the server accepted a message and before
the outbox row is marked sent, the message is sent again after its lease expires. Every message
carries a `Message-ID` derived from its outbox id, so that resend is recognisable (and mail
systems that deduplicate on Message-ID drop it).

A message may carry a display name for the sender (the store's name: the address stays ours)
and extra headers such as `List-Unsubscribe` (RFC 2369) and `List-Unsubscribe-Post` (RFC 8058).
"""

from __future__ import annotations

import email.policy
import smtplib
import ssl
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_TIMEOUT = 30.0
STARTTLS_PORT = 587
MAX_DISPLAY_NAME = 100
# Header lines may be long (RFC 5322 allows 998): folding a List-Unsubscribe URL, which has no
# spaces, would turn it into encoded words that mail clients do not read as a URL. Bodies are
# quoted-printable, so they stay 7-bit whatever the language.
MAIL_POLICY = email.policy.default.clone(max_line_length=998)


class MailError(Exception):
    """The message was not accepted (refused, disconnected, timed out); retry later."""


class MailConfigError(ValueError):
    """`SMTP_URL` cannot be used; the message says why (never the password)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingMail:
    outbox_id: int
    recipient: str
    subject: str
    text: str
    html: str | None = None
    sender_name: str | None = None  # the From display name, e.g. the store's name
    headers: tuple[tuple[str, str], ...] = ()  # extra headers, e.g. List-Unsubscribe


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    implicit_tls: bool = False
    starttls: bool = False
    timeout: float = DEFAULT_TIMEOUT


def parse_smtp_url(url: str, *, default_sender: str) -> SmtpConfig:
    """The SmtpConfig for an `smtp://` or `smtps://` URL; raises MailConfigError."""
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise MailConfigError("SMTP_URL must look like smtp://user:pass@host:587 or smtps://...")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    implicit = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if implicit else 25)
        timeout = float(query.get("timeout", DEFAULT_TIMEOUT))
    except ValueError as exc:
        raise MailConfigError("SMTP_URL has an invalid port or timeout") from exc
    starttls = not implicit and (query.get("starttls") == "1" or port == STARTTLS_PORT)
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        sender=query.get("from") or default_sender,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=implicit,
        starttls=starttls,
        timeout=timeout,
    )


def message_id_for(outbox_id: int, sender: str) -> str:
    """The Message-ID of an outbox row: the same on every resend of that row."""
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<outbox.{outbox_id}@{domain}>"


def build_email(mail: OutgoingMail, sender: str) -> EmailMessage:
    message = EmailMessage(policy=MAIL_POLICY)
    name = _one_line(mail.sender_name or "")[:MAX_DISPLAY_NAME]
    message["From"] = Address(display_name=name, addr_spec=sender) if name else sender
    message["To"] = mail.recipient
    message["Subject"] = _one_line(mail.subject)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id_for(mail.outbox_id, sender)
    message.set_content(mail.text, cte="quoted-printable")
    if mail.html:
        message.add_alternative(mail.html, subtype="html", cte="quoted-printable")
    for header, value in mail.headers:  # after the content, which resets Content-* headers
        message[header] = _one_line(value)
    return message


def _one_line(value: str) -> str:
    """Header text on one line: line breaks could start a header of their own."""
    return " ".join(value.split())


class SmtpMailer:
    """Sends each message over its own SMTP connection (timeouts bound every step)."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def send(self, mail: OutgoingMail) -> None:
        """Hand one message to the server. Raises MailError; not idempotent (see module)."""
        message = build_email(mail, self.config.sender)
        try:
            with self._connect() as smtp:
                if self.config.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.config.username:
                    smtp.login(self.config.username, self.config.password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(_describe(exc)) from exc

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        if config.implicit_tls:
            return smtplib.SMTP_SSL(
                config.host,
                config.port,
                timeout=config.timeout,
                context=ssl.create_default_context(),
            )
        return smtplib.SMTP(config.host, config.port, timeout=config.timeout)


def _describe(exc: Exception) -> str:
    """The error without addresses: SMTP codes and classes only."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
        return f"recipient refused ({', '.join(map(str, codes))})"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        return f"{type(exc).__name__} {exc.smtp_code}: {text[:200]}"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def mailer_from_settings(smtp_url: str | None, public_base_url: str) -> SmtpMailer | None:
    """The mailer for the settings, or None when `SMTP_URL` is unset (mail not configured)."""
    if not smtp_url:
        return None
    host = urlsplit(public_base_url).hostname or "localhost"
    return SmtpMailer(parse_smtp_url(smtp_url, default_sender=f"no-reply@{host}"))
