"""The email outbox: enqueue once per dedup key, claim with a lease, send outside transactions.

Sending is `claim (commit) -> send -> mark sent (commit)`: no database transaction is held open
while talking to the SMTP server, and the lease (`locked_until`) keeps a second worker away from
a claimed message. A worker that dies after the server accepted a message but before marking it
sent leaves a lease that expires, and the message is sent again with the same Message-ID: SMTP
cannot be exactly-once, and that narrow window is the only way to get a duplicate.

Shopper emails are recorded as drafts where their cause happens (`enqueue_draft`, in that
transaction) and rendered by the worker (`services.email_drafts`), which makes them pending. A
message that names its recipient's `unsubscribe_hash` is checked against the shop's
unsubscribes every time it is claimed: one unsubscribed since it was queued is skipped, never
sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..mailer import MailError, OutgoingMail
from ..models import OutboxMessage, OutboxStatus
from .email_unsubscribes import unsubscribed_among
from .retries import backoff_delay

logger = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_MAX_ATTEMPTS = 8
SessionFactory = Callable[[], Session]


class MailSender(Protocol):
    def send(self, mail: OutgoingMail) -> None:
        """Hand one message to the mail server; raises MailError."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendReport:
    sent: int = 0
    failed: int = 0  # will be retried
    dead: int = 0  # gave up after max_attempts


def enqueue_message(
    session: Session,
    *,
    shop_id: int,
    kind: str,
    recipient: str,
    dedup_key: str,
    subject: str,
    text: str,
    html: str | None = None,
    now: datetime,
) -> tuple[int, bool]:
    """Queue one email unless (shop_id, dedup_key) exists: returns (id, created). Idempotent."""
    payload = {"subject": subject, "text": text, "html": html}
    values = _message(shop_id, kind, recipient, dedup_key, payload, OutboxStatus.PENDING, now)
    return _insert_once(session, OutboxMessage(**values))


def enqueue_draft(
    session: Session,
    *,
    shop_id: int,
    kind: str,
    recipient: str,
    dedup_key: str,
    payload: dict[str, Any],
    now: datetime,
) -> bool:
    """Queue a shopper email as a draft (what to say, not yet how) unless (shop_id, dedup_key)
    exists; True when queued now. One `INSERT ... ON CONFLICT DO NOTHING` (no savepoint: it runs
    on the order path). The worker renders it (`services.email_drafts`). Idempotent."""
    values = _message(shop_id, kind, recipient, dedup_key, payload, OutboxStatus.DRAFT, now)
    statement = _insert_new(session).values(values).returning(OutboxMessage.id)
    return session.execute(statement).scalar_one_or_none() is not None


def enqueue_drafts(session: Session, drafts: Sequence[dict[str, Any]], *, now: datetime) -> None:
    """`enqueue_draft` for many (each a dict of its keyword arguments but `now`), in one
    `INSERT ... ON CONFLICT DO NOTHING`: the bulk order path's emails."""
    if not drafts:
        return
    fields = ("shop_id", "kind", "recipient", "dedup_key", "payload")
    rows = [_message(*(d[f] for f in fields), OutboxStatus.DRAFT, now) for d in drafts]
    session.connection().execute(_insert_new(session), rows)


def _insert_new(session: Session) -> Insert:
    """An outbox INSERT that skips a message whose (shop_id, dedup_key) is already queued."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(OutboxMessage.__table__).on_conflict_do_nothing(
        index_elements=["shop_id", "dedup_key"]
    )


def _message(
    shop_id: int,
    kind: str,
    recipient: str,
    dedup_key: str,
    payload: dict[str, Any],
    status: OutboxStatus,
    now: datetime,
) -> dict[str, Any]:
    return {
        "shop_id": shop_id, "kind": kind, "recipient": recipient, "dedup_key": dedup_key,
        "payload": payload, "status": status, "attempts": 0, "next_attempt_at": now,
        "created_at": now,
    }  # fmt: skip


def _insert_once(session: Session, message: OutboxMessage) -> tuple[int, bool]:
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        existing = session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.shop_id == message.shop_id,
                OutboxMessage.dedup_key == message.dedup_key,
            )
        ).one()
        return existing, False
    return message.id, True


def skip_message(message: OutboxMessage, reason: str) -> None:
    """Never send `message`: SKIPPED with the reason in `last_error`."""
    message.status = OutboxStatus.SKIPPED
    message.next_attempt_at = message.locked_until = None
    message.last_error = reason


def claim_messages(
    session: Session, *, now: datetime, limit: int = 20, lease: timedelta = DEFAULT_LEASE
) -> list[OutgoingMail]:
    """Lease up to `limit` due messages (pending or failed, next attempt due, no live lease)
    until now + lease and return them; those whose recipient has unsubscribed are skipped
    instead. The caller commits before sending. On PostgreSQL rows are claimed with FOR
    UPDATE SKIP LOCKED; SQLite has one writer at a time."""
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.FAILED)),
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until <= now),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    query = query.with_for_update(skip_locked=True)  # SQLite renders none: one writer
    messages = list(session.scalars(query))
    unsubscribed = _unsubscribed(session, messages)
    claimed = []
    for message in messages:
        if message.id in unsubscribed:
            skip_message(message, "unsubscribed")
            continue
        message.locked_until = now + lease
        claimed.append(_outgoing(message))
    session.flush()
    return claimed


def _unsubscribed(session: Session, messages: list[OutboxMessage]) -> set[int]:
    """Ids of the messages whose recipient unsubscribed from the message's shop."""
    by_shop: dict[int, dict[int, str]] = {}
    for message in messages:
        email_hash = message.payload.get("unsubscribe_hash")
        if isinstance(email_hash, str):
            by_shop.setdefault(message.shop_id, {})[message.id] = email_hash
    found: set[int] = set()
    for shop_id, hashes in by_shop.items():
        gone = unsubscribed_among(session, shop_id, hashes.values())
        found.update(message_id for message_id, h in hashes.items() if h in gone)
    return found


def _outgoing(message: OutboxMessage) -> OutgoingMail:
    payload = message.payload
    headers = payload.get("headers") or {}
    return OutgoingMail(
        outbox_id=message.id,
        recipient=message.recipient,
        subject=str(payload.get("subject") or ""),
        text=str(payload.get("text") or ""),
        html=payload.get("html"),
        sender_name=payload.get("from_name"),
        headers=tuple((str(name), str(value)) for name, value in headers.items()),
    )


def mark_sent(session: Session, message_id: int, *, now: datetime) -> None:
    """Record that the server accepted the message and release the lease. Idempotent."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status != OutboxStatus.SENT)
        .values(status=OutboxStatus.SENT, sent_at=now, locked_until=None, last_error=None)
    )


def record_send_failure(
    session: Session, message_id: int, error: str, *, now: datetime, max_attempts: int
) -> OutboxStatus:
    """One more failed attempt: FAILED with a backoff, or DEAD after `max_attempts`. Returns
    the new status."""
    message = session.get(OutboxMessage, message_id)
    if message is None or message.status is OutboxStatus.SENT:
        return OutboxStatus.SENT
    message.attempts += 1
    message.last_error = error[:1000]
    message.locked_until = None
    if message.attempts >= max_attempts:
        message.status, message.next_attempt_at = OutboxStatus.DEAD, None
    else:
        message.status = OutboxStatus.FAILED
        message.next_attempt_at = now + backoff_delay(message.attempts)
    session.flush()
    return message.status


def send_due_messages(
    session_factory: SessionFactory,
    *,
    mailer: MailSender,
    now: datetime,
    limit: int = 20,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    lease: timedelta = DEFAULT_LEASE,
) -> SendReport:
    """Claim, send and record up to `limit` messages, each step in its own transaction
    (`session_factory()` gives a new Session; this function commits). Returns a SendReport."""
    with session_factory() as session, session.begin():
        claimed = claim_messages(session, now=now, limit=limit, lease=lease)
    sent = failed = dead = 0
    for mail in claimed:
        try:
            mailer.send(mail)
        except MailError as exc:
            with session_factory() as session, session.begin():
                status = record_send_failure(
                    session, mail.outbox_id, str(exc), now=now, max_attempts=max_attempts
                )
            dead += status is OutboxStatus.DEAD
            failed += status is OutboxStatus.FAILED
            logger.warning("mail failed", extra={"outbox_id": mail.outbox_id, "status": status})
            continue
        with session_factory() as session, session.begin():
            mark_sent(session, mail.outbox_id, now=now)
        sent += 1
    return SendReport(sent=sent, failed=failed, dead=dead)
