"""The worker's shopper-email jobs (see `jobs.JOBS`): render drafts, find the timed emails, and
enroll customers automatically. Sending is the outbox's `send_outbox` job.

`prepare_shopper_emails` renders each draft in its recipient's language (`email_rendering`)
with signed links (`email_links`); an address unsubscribed from the shop, a kind switched off,
or a reward that moved on makes the draft SKIPPED with the reason instead. A draft that fails to
render is DEAD (logged with its id), so one broken draft never blocks the others.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from referral_plugin.app import AppServices
from referral_plugin.email_links import email_hash_key, email_links
from referral_plugin.email_rendering import render_email
from referral_plugin.models import OutboxMessage, OutboxStatus
from referral_plugin.services import auto_enroll, email_drafts, email_reminders
from referral_plugin.services.email_facts import EmailFacts, Skip, facts_for_draft
from referral_plugin.services.email_unsubscribes import is_unsubscribed, recipient_hash

logger = logging.getLogger(__name__)


def prepare_shopper_emails(session: Session, *, now: datetime, services: AppServices) -> int:
    """Render or skip the waiting drafts; returns how many were handled."""
    key = email_hash_key(services.settings.secret_key)
    drafts = email_drafts.claim_drafts(session)
    for message in drafts:
        facts = facts_for_draft(session, message, now)
        if isinstance(facts, Skip):
            email_drafts.skip_draft(message, facts.reason)
            continue
        email_hash = recipient_hash(key, message.shop_id, facts.recipient)
        if is_unsubscribed(session, message.shop_id, email_hash):
            email_drafts.skip_draft(message, "unsubscribed")
            continue
        _render(message, facts, email_hash, services, now)
    session.flush()
    return len(drafts)


def _render(
    message: OutboxMessage,
    facts: EmailFacts,
    email_hash: str,
    services: AppServices,
    now: datetime,
) -> None:
    settings = services.settings
    links = email_links(settings.public_base_url, settings.secret_key, facts, email_hash, now=now)
    try:
        rendered = render_email(facts, links)
    except Exception as exc:  # a template or catalog bug: park this draft, render the rest
        logger.exception("email not rendered", extra={"outbox_id": message.id})
        message.status, message.next_attempt_at = OutboxStatus.DEAD, None
        message.last_error = f"not rendered: {type(exc).__name__}"
        return
    email_drafts.fill_draft(
        message, subject=rendered.subject, text=rendered.text, html=rendered.html,
        sender_name=facts.store_name, language=facts.language, unsubscribe_url=links.unsubscribe,
        unsubscribe_hash=email_hash, now=now,
    )  # fmt: skip


def queue_expiry_reminders(session: Session, *, now: datetime, services: AppServices) -> int:
    """Unused rewards expiring soon: one reminder each."""
    return email_reminders.queue_expiry_reminders(session, now=now)


def queue_share_nudges(session: Session, *, now: datetime, services: AppServices) -> int:
    """Advocates who joined a while ago and never shared: one nudge each."""
    return email_reminders.queue_share_nudges(session, now=now)


def auto_enroll_customers(session: Session, *, now: datetime, services: AppServices) -> int:
    """Customers with a paid order become advocates where the program asks for it."""
    return auto_enroll.enroll_new_customers(session, now=now)
