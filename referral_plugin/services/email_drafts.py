"""Turning shopper email drafts into sendable messages: claim, then fill or skip each one.

A draft (`services.shopper_emails`) becomes PENDING with its subject, text, HTML, the store's
name as the sender's display name, Content-Language, the List-Unsubscribe headers and the
recipient's `unsubscribe_hash` (checked again whenever the outbox claims it); or SKIPPED with
the reason.
Claimed drafts are locked (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has one writer) until
the caller's transaction ends, so two workers never render one draft.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import OutboxMessage, OutboxStatus
from .outbox import skip_message

ONE_CLICK = "List-Unsubscribe=One-Click"


def claim_drafts(session: Session, *, limit: int = 50) -> list[OutboxMessage]:
    """Up to `limit` drafts, oldest first, locked for this transaction."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.DRAFT)
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def fill_draft(
    message: OutboxMessage,
    *,
    subject: str,
    text: str,
    html: str,
    sender_name: str,
    language: str,
    unsubscribe_url: str,
    unsubscribe_hash: str,
    now: datetime,
) -> None:
    """The draft becomes a pending message with its rendered parts, due now."""
    message.payload = {
        "subject": subject,
        "text": text,
        "html": html,
        "from_name": sender_name,
        "headers": {
            "Content-Language": language,
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": ONE_CLICK,
        },
        "unsubscribe_hash": unsubscribe_hash,
    }
    message.status = OutboxStatus.PENDING
    message.next_attempt_at = now


def skip_draft(message: OutboxMessage, reason: str) -> None:
    """The draft is not sent; what it would have said is dropped (only the reason stays)."""
    message.payload = {}
    skip_message(message, reason)
