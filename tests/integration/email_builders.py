"""Builders for the shopper-email tests: a store with a two-sided program, its advocate, a paid
referred order, issued rewards, and the worker steps (render drafts, send) run at a given time."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage, Message
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from referral_plugin.app import AppServices, build_services
from referral_plugin.domain.events import OrderEventKind
from referral_plugin.models import Advocate, OutboxMessage, Reward, Shop
from referral_plugin.services.advocates import EnrolledAdvocate
from referral_plugin.services.issuing import issue_due_rewards
from referral_plugin.services.orders import record_order_event
from referral_plugin.services.outbox import send_due_messages
from referral_plugin.services.rewards import mature_held_rewards
from referral_plugin.settings import Settings
from referral_plugin.shopper_email_jobs import prepare_shopper_emails
from tests.fakes import FakeStoreClient
from tests.integration import builders as b
from tests.integration.builders import CODE_KEY, NOW
from tests.integration.smtp_server import SmtpServer

STORE = "Bella Ceramics"
PROGRAM: dict[str, Any] = {
    "name": "Give $5 credit, get $10 off",
    "kind": "two_sided",
    "advocate_reward": {"kind": "fixed_discount", "amount": "10.00", "expires_in_days": 30},
    "friend_reward": {"kind": "store_credit", "amount": "5.00"},
    "hold_days": 14,
    "appearance": {"color": "#7a2e8c"},
}
PAID_AT = NOW
HELD_UNTIL = NOW + timedelta(days=14)
ISSUED_AT = HELD_UNTIL + timedelta(minutes=5)


@dataclass(frozen=True)
class Store:
    shop: Shop
    program_id: int
    anna: EnrolledAdvocate


def a_store(
    session: Session, *, language: str | None = "en", domain: str | None = None, **program: Any
) -> Store:
    """The shop "Bella Ceramics", a program (PROGRAM with `program` changes) and Anna, who
    joined in `language`."""
    shop = b.shop(session, domain or "referral-tests.myshopify.com")
    shop.name = STORE
    created = b.program(session, shop.id, {**PROGRAM, **program})
    anna = b.advocate(session, shop.id, created.id, language=language)
    session.flush()
    return Store(shop=shop, program_id=created.id, anna=anna)


def paid_referral(
    session: Session, store: Store, order_id: str = "1001", friend: str = "friend@example.com"
) -> tuple[int, ...]:
    """A paid order with Anna's code: Anna's and the friend's rewards, now held."""
    event = b.order_event(OrderEventKind.PAID, order_id, codes=(store.anna.code,), email=friend)
    outcome = record_order_event(session, store.shop.id, event, now=PAID_AT, code_key=CODE_KEY)
    return outcome.reward_ids


def issued_rewards(session: Session, store: Store, order_id: str = "1001") -> list[Reward]:
    """The rewards of a paid referral, matured and issued into a fake store at ISSUED_AT."""
    paid_referral(session, store, order_id)
    mature_held_rewards(session, now=ISSUED_AT)
    issue_due_rewards(
        session, shop_id=store.shop.id, client=FakeStoreClient(), now=ISSUED_AT, code_key=CODE_KEY
    )
    session.flush()
    session.expire_all()
    return list(session.scalars(select(Reward).where(Reward.shop_id == store.shop.id)))


def set_language(session: Session, advocate_id: int, language: str | None) -> None:
    session.execute(update(Advocate).where(Advocate.id == advocate_id).values(language=language))


def prepare(session: Session, services: AppServices, at: datetime = NOW) -> int:
    """The worker's render step, in the test's transaction."""
    handled = prepare_shopper_emails(session, now=at, services=services)
    session.expire_all()
    return handled


def outbox(session: Session, shop_id: int, kind: str | None = None) -> list[OutboxMessage]:
    """The shop's outbox rows (of one kind), oldest first."""
    session.expire_all()
    query = select(OutboxMessage).where(OutboxMessage.shop_id == shop_id).order_by(OutboxMessage.id)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    return list(session.scalars(query))


@pytest.fixture(name="services")
def services_fixture(settings: Settings) -> Iterator[AppServices]:
    """The worker's services for the test's settings; import `services_fixture` to use it."""
    built = build_services(settings)
    yield built
    built.engine.dispose()


@dataclass(frozen=True)
class Worker:
    """The worker's email steps on the test's connection (each step a savepoint), and what the
    SMTP server received."""

    session: Session
    services: AppServices
    smtp: SmtpServer

    def prepare(self, at: datetime = NOW) -> None:
        prepare(self.session, self.services, at)

    def send(self, at: datetime = NOW) -> None:
        sessions = sessionmaker(
            bind=self.session.bind, join_transaction_mode="create_savepoint",
            expire_on_commit=False,
        )  # fmt: skip
        send_due_messages(sessions, mailer=self.smtp.mailer(), now=at)
        self.session.expire_all()

    def received(self, recipient: str) -> EmailMessage:
        """The one message `recipient` received, read with the modern policy."""
        (found,) = [m for m in self.smtp.handler.received if m["X-Envelope-To"] == recipient]
        return parsed(found)


def parsed(message: Message) -> EmailMessage:
    """A received message read with the modern policy (decoded headers, `get_body`); written
    back out without refolding its header lines."""
    unfolded = message.as_bytes(policy=email.policy.compat32.clone(max_line_length=0))
    return email.message_from_bytes(unfolded, policy=email.policy.default)  # type: ignore[return-value]


def parts(message: Message) -> tuple[str, str]:
    """The text and HTML parts of a received message."""
    modern = parsed(message)
    text, html = modern.get_body(("plain",)), modern.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()
