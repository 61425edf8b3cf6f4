"""Shopper emails read back from a real SMTP server (aiosmtpd on 127.0.0.1): from the store's
name, in the recipient's language, with the code, the signed status link, the referral link
and the one-click unsubscribe headers; a server that refuses or drops the connection keeps the
message queued, it is retried and never sent twice; an unsubscribe after queueing stops it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from referral_plugin.app import AppServices
from referral_plugin.domain.decisions import Beneficiary
from referral_plugin.email_links import email_hash_key, read_unsubscribe_token
from referral_plugin.models import OutboxStatus
from referral_plugin.services.email_invites import invite_friends
from referral_plugin.services.email_unsubscribes import recipient_hash, unsubscribe
from referral_plugin.settings import Settings
from referral_plugin.web.shopper_links import AdvocateRef, read_status_token
from tests.integration.builders import NOW
from tests.integration.email_builders import (
    ISSUED_AT,
    Worker,
    a_store,
    issued_rewards,
    outbox,
    paid_referral,
    parts,
    services_fixture,  # noqa: F401 (fixture)
)
from tests.integration.smtp_server import (  # the fixture is used by name
    SENDER,
    SmtpServer,
    smtp_server_fixture,  # noqa: F401
)

PUBLIC = "https://referrals.example.test"


@pytest.fixture
def worker(session: Session, services: AppServices, smtp_server: SmtpServer) -> Worker:
    return Worker(session, services, smtp_server)


def link_in(text: str, path: str) -> str:
    match = re.search(rf"{re.escape(PUBLIC)}{path}[^\s\"<>]+", text)
    assert match is not None, f"no {path} link"
    return match.group(0)


def test_a_pending_reward_arrives_from_the_store_in_the_advocate_s_language(
    session: Session, worker: Worker, settings: Settings
) -> None:
    store = a_store(session, language="ro")
    paid_referral(session, store)
    worker.prepare()
    worker.send()

    anna = worker.received("anna@example.com")
    assert (
        anna["Subject"].replace("\xa0", " ") == "Ai câștigat reducere de 10 USD la Bella Ceramics"
    )
    assert anna["From"].addresses[0].display_name == "Bella Ceramics"
    assert anna["From"].addresses[0].addr_spec == SENDER  # the address stays ours
    assert anna["Content-Language"] == "ro"
    text, html = parts(anna)
    assert "Recompensa ta este în așteptare până la 16 martie 2026" in text
    assert '<html lang="ro" dir="ltr">' in html and "#7a2e8c" in html
    status = link_in(text, "/p/")
    token = status.rsplit("/", 1)[1]
    public_id = status.split("/p/")[1].split("/")[0]
    valid_until = (NOW + timedelta(days=29)).timestamp
    signed = read_status_token(settings.secret_key, token, clock=valid_until)
    assert signed == AdvocateRef(public_id, store.anna.code)
    assert f'href="{status}"' in html


def test_every_message_carries_a_one_click_unsubscribe_for_its_recipient(
    session: Session, worker: Worker, settings: Settings
) -> None:
    store = a_store(session)
    paid_referral(session, store)
    worker.prepare()
    worker.send()

    key = email_hash_key(settings.secret_key)
    for recipient in ("anna@example.com", "friend@example.com"):
        message = worker.received(recipient)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        header = message["List-Unsubscribe"]
        assert header.startswith(f"<{PUBLIC}/u/") and header.endswith(">")
        (raw,) = [m for m in worker.smtp.handler.received if m["X-Envelope-To"] == recipient]
        assert raw["List-Unsubscribe"] == header  # one line as sent: no encoded words
        ref = read_unsubscribe_token(settings.secret_key, header[1:-1].rsplit("/", 1)[1])
        assert ref is not None and ref.email_hash == recipient_hash(key, store.shop.id, recipient)
        text, html = parts(message)
        assert f"Unsubscribe: {header[1:-1]}" in text
        assert f'href="{header[1:-1]}"' in html


def test_an_issued_reward_arrives_with_its_code_right_to_left_in_persian(
    session: Session, worker: Worker
) -> None:
    store = a_store(session, language="fa")
    rewards = issued_rewards(session, store)
    code = next(r.store_code for r in rewards if r.beneficiary is Beneficiary.ADVOCATE)
    worker.prepare(ISSUED_AT)
    worker.send(ISSUED_AT)

    anna = worker.received("anna@example.com")
    assert anna["Subject"] == "پاداش شما از Bella Ceramics آماده است"
    assert anna["Content-Language"] == "fa"
    text, html = parts(anna)
    assert f"کد پاداش شما: {code}" in text
    assert '<html lang="fa" dir="rtl">' in html
    assert '<span dir="ltr" style="display:inline-block;' in html and f">{code}</span>" in html
    assert 'href="https://referral-tests.myshopify.com"' in html  # the button to the store


def test_an_invitation_arrives_with_the_advocate_s_name_and_referral_link(
    session: Session, worker: Worker, settings: Settings
) -> None:
    store = a_store(session)
    invite_friends(
        session, store.shop.id, store.anna.id, ["ola@example.com"], language="pl",
        email_key=email_hash_key(settings.secret_key), now=NOW,
    )  # fmt: skip
    worker.prepare()
    worker.send()

    ola = worker.received("ola@example.com")
    assert ola["Subject"].replace("\xa0", " ") == (
        "Anna wysyła Ci 5 USD na zakupy w sklepie w Bella Ceramics"
    )
    assert ola["From"].addresses[0].display_name == "Bella Ceramics"
    text, html = parts(ola)
    assert link_in(text, "/r/") == f"{PUBLIC}/r/{store.anna.code}"
    assert f'href="{PUBLIC}/r/{store.anna.code}"' in html
    assert "Anna wpisał(a) Twój adres na stronie Bella Ceramics" in text
    assert "/status/" not in text  # the friend gets no link to Anna's status page


@pytest.mark.parametrize("failure", ["refuse", "drop"], ids=["554 refused", "connection dropped"])
def test_a_failing_server_keeps_the_email_queued_and_it_is_sent_once_later(
    session: Session, worker: Worker, failure: str
) -> None:
    store = a_store(session, **{"friend_reward": None, "kind": "one_sided"})
    paid_referral(session, store)
    worker.prepare()
    setattr(worker.smtp.handler, failure, 100)  # every message of this run
    worker.send()
    setattr(worker.smtp.handler, failure, 0)
    (queued,) = outbox(session, store.shop.id, "reward_pending")
    assert (queued.status, queued.attempts) == (OutboxStatus.FAILED, 1)
    assert queued.next_attempt_at == NOW + timedelta(minutes=1)
    worker.send(NOW + timedelta(seconds=30))  # not due yet
    assert worker.smtp.handler.received == []

    worker.send(NOW + timedelta(minutes=1))
    worker.send(NOW + timedelta(hours=1))
    delivered = worker.received("anna@example.com")  # exactly once
    assert delivered["Message-ID"] == f"<outbox.{queued.id}@shop.example.test>"
    sent = outbox(session, store.shop.id, "reward_pending")[0]
    assert (sent.status, sent.attempts) == (OutboxStatus.SENT, 1)


def test_an_email_queued_before_the_unsubscribe_never_reaches_the_server(
    session: Session, worker: Worker, settings: Settings
) -> None:
    store = a_store(session)
    paid_referral(session, store)
    worker.prepare()
    email_hash = recipient_hash(email_hash_key(settings.secret_key), store.shop.id, "anna@x.y")
    unsubscribe(session, store.shop.id, email_hash, now=NOW)  # someone else: no effect
    anna_hash = outbox(session, store.shop.id, "reward_pending")[0].payload["unsubscribe_hash"]
    unsubscribe(session, store.shop.id, anna_hash, now=NOW)

    worker.send()
    assert [m["X-Envelope-To"] for m in worker.smtp.handler.received] == ["friend@example.com"]
    anna = outbox(session, store.shop.id, "reward_pending")[0]
    assert (anna.status, anna.last_error) == (OutboxStatus.SKIPPED, "unsubscribed")
