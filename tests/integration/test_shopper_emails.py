"""Shopper emails from cause to sendable message, on a real database: each kind is queued as a
draft where it happens (once), rendered by the worker in the recipient's language (Persian
right-to-left), switched off per program, and never sent to an unsubscribed address, whether
the unsubscribe came before the draft, before rendering, or after the message was queued."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from referral_plugin.app import AppServices
from referral_plugin.domain.decisions import Beneficiary
from referral_plugin.domain.lifecycle import RewardStatus
from referral_plugin.email_links import email_hash_key
from referral_plugin.models import Advocate, Click, Code, OutboxStatus
from referral_plugin.services.advocates import enroll_advocate
from referral_plugin.services.customer_data import CustomerRef
from referral_plugin.services.email_invites import invite_friends
from referral_plugin.services.email_reminders import (
    NUDGE_WINDOW,
    queue_expiry_reminders,
    queue_share_nudges,
)
from referral_plugin.services.email_unsubscribes import recipient_hash, unsubscribe
from referral_plugin.services.outbox import claim_messages
from referral_plugin.services.programs import update_program
from referral_plugin.services.redaction import redact_customer
from referral_plugin.services.rewards import mark_reward_redeemed, reverse_reward
from referral_plugin.settings import Settings
from tests.integration import builders as b
from tests.integration.builders import NOW
from tests.integration.email_builders import (
    ISSUED_AT,
    Store,
    a_store,
    issued_rewards,
    outbox,
    paid_referral,
    prepare,
    services_fixture,  # noqa: F401 (fixture)
    set_language,
)

ALL_BUT = ["welcome", "invite", "reward_pending", "reward_issued", "expiry_reminder", "share_nudge"]


def enabled_except(kind: str) -> dict[str, object]:
    return {"emails": {"enabled": [k for k in ALL_BUT if k != kind]}}


def unsubscribed(session: Session, settings: Settings, shop_id: int, email: str) -> None:
    key = email_hash_key(settings.secret_key)
    unsubscribe(session, shop_id, recipient_hash(key, shop_id, email), now=NOW)


def test_a_paid_referral_queues_one_pending_email_per_beneficiary_in_its_transaction(
    session: Session, services: AppServices
) -> None:
    store = a_store(session)
    paid_referral(session, store)
    paid_referral(session, store)  # the same order again: nothing new

    drafts = outbox(session, store.shop.id, "reward_pending")
    assert [(m.recipient, m.status) for m in drafts] == [
        ("anna@example.com", OutboxStatus.DRAFT),
        ("friend@example.com", OutboxStatus.DRAFT),
    ]
    prepare(session, services)
    anna, friend = outbox(session, store.shop.id, "reward_pending")
    assert anna.status is OutboxStatus.PENDING
    assert anna.payload["subject"] == "You earned $10 off at Bella Ceramics"
    assert "pending until March 16, 2026" in anna.payload["text"]
    assert "/p/" in anna.payload["text"] and "/status/" in anna.payload["text"]
    assert friend.payload["subject"] == "You earned $5 in store credit at Bella Ceramics"
    assert "/status/" not in friend.payload["text"]  # the friend has no status page
    rendered = anna.payload
    prepare(session, services)
    assert outbox(session, store.shop.id, "reward_pending")[0].payload == rendered


def test_an_issued_reward_sends_its_code_and_expiry_once(
    session: Session, services: AppServices
) -> None:
    store = a_store(session)
    rewards = issued_rewards(session, store)
    code = next(r.store_code for r in rewards if r.beneficiary is Beneficiary.ADVOCATE)
    assert all(r.status is RewardStatus.ISSUED for r in rewards) and code

    prepare(session, services, ISSUED_AT)
    anna, friend = outbox(session, store.shop.id, "reward_issued")
    assert anna.recipient == "anna@example.com"
    assert anna.payload["subject"] == "Your reward from Bella Ceramics is ready"
    assert f"Your reward code: {code}" in anna.payload["text"]
    assert f">{code}</span>" in anna.payload["html"]
    assert "Use it by April 15, 2026." in anna.payload["text"]
    assert friend.recipient == "friend@example.com"
    assert "It is in your account at Bella Ceramics." in friend.payload["text"]
    assert "reward code" not in friend.payload["text"]  # store credit has no code to type


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [("reward_pending", "paid"), ("reward_issued", "issued")],
    ids=["pending switched off", "issued switched off"],
)
def test_a_kind_switched_off_queues_nothing(
    session: Session, services: AppServices, kind: str, outcome: str
) -> None:
    store = a_store(session, **enabled_except(kind))
    if outcome == "paid":
        paid_referral(session, store)
    else:
        issued_rewards(session, store)
    assert outbox(session, store.shop.id, kind) == []


def test_a_draft_whose_reward_moved_on_is_skipped_with_the_reason(
    session: Session, services: AppServices
) -> None:
    store = a_store(session)
    reward_ids = paid_referral(session, store)
    reverse_reward(session, store.shop.id, reward_ids[0], reason="merchant", now=NOW)

    prepare(session, services)
    anna = outbox(session, store.shop.id, "reward_pending")[0]
    assert (anna.status, anna.last_error, anna.payload) == (
        OutboxStatus.SKIPPED,
        "reward no longer pending",
        {},
    )


def test_a_draft_to_a_customer_redacted_while_it_waited_is_skipped(
    session: Session, services: AppServices
) -> None:
    store = a_store(session)
    paid_referral(session, store)
    redact_customer(session, store.shop.id, CustomerRef.of(None, "anna@example.com"), now=NOW)

    prepare(session, services)
    anna = outbox(session, store.shop.id, "reward_pending")[0]
    assert (anna.status, anna.last_error) == (OutboxStatus.SKIPPED, "nothing to send")
    assert anna.recipient.endswith("@redacted.invalid") and anna.payload == {}


@pytest.mark.parametrize(
    ("advocate_language", "store_language", "subject", "direction"),
    [
        ("ro", None, "Ai câștigat reducere de 10 USD la Bella Ceramics", "ltr"),
        ("pl", "it", "Otrzymujesz 10 USD rabatu w Bella Ceramics", "ltr"),
        (None, "it", "Hai guadagnato 10 USD di sconto da Bella Ceramics", "ltr"),
        ("fa", None, "شما \u200e$ 10 تخفیف از Bella Ceramics به دست آوردید", "rtl"),
        (None, None, "You earned $10 off at Bella Ceramics", "ltr"),
    ],
    ids=["advocate ro", "advocate pl over store it", "store it", "advocate fa", "english"],
)
def test_the_email_speaks_the_advocate_s_language_else_the_store_s(
    session: Session,
    services: AppServices,
    advocate_language: str | None,
    store_language: str | None,
    subject: str,
    direction: str,
) -> None:
    store = a_store(session, appearance={"color": "#7a2e8c", "language": store_language})
    set_language(session, store.anna.id, advocate_language)
    paid_referral(session, store)

    prepare(session, services)
    anna = outbox(session, store.shop.id, "reward_pending")[0]
    language = advocate_language or store_language or "en"
    assert anna.payload["subject"].replace("\xa0", " ") == subject
    assert f'<html lang="{language}" dir="{direction}">' in anna.payload["html"]
    assert anna.payload["headers"]["Content-Language"] == language


def test_a_friend_hears_in_their_language_as_an_advocate_else_the_store_s(
    session: Session, services: AppServices
) -> None:
    store = a_store(session, appearance={"color": "#7a2e8c", "language": "it"})
    paid_referral(session, store, "1001", friend="marco@example.com")
    paid_referral(session, store, "1002", friend="ola@example.com")
    b.advocate(session, store.shop.id, store.program_id, email="ola@example.com", language="pl")

    prepare(session, services)
    subjects = {
        m.recipient: m.payload["subject"] for m in outbox(session, store.shop.id, "reward_pending")
    }
    assert subjects["marco@example.com"].startswith("Hai guadagnato")
    assert subjects["ola@example.com"].startswith("Otrzymujesz")


def test_an_unsubscribed_address_gets_a_skipped_draft_and_no_message(
    session: Session, services: AppServices, settings: Settings
) -> None:
    store = a_store(session)
    unsubscribed(session, settings, store.shop.id, "Anna@Example.com")
    paid_referral(session, store)

    prepare(session, services)
    anna, friend = outbox(session, store.shop.id, "reward_pending")
    assert (anna.status, anna.last_error) == (OutboxStatus.SKIPPED, "unsubscribed")
    assert friend.status is OutboxStatus.PENDING


def test_a_message_queued_before_the_unsubscribe_is_skipped_when_claimed(
    session: Session, services: AppServices, settings: Settings
) -> None:
    store = a_store(session)
    paid_referral(session, store)
    prepare(session, services)
    unsubscribed(session, settings, store.shop.id, "anna@example.com")

    claimed = claim_messages(session, now=NOW + timedelta(minutes=1))
    assert [mail.recipient for mail in claimed] == ["friend@example.com"]
    anna = outbox(session, store.shop.id, "reward_pending")[0]
    assert (anna.status, anna.last_error, anna.locked_until) == (
        OutboxStatus.SKIPPED,
        "unsubscribed",
        None,
    )


def test_an_unsubscribe_in_one_shop_does_not_silence_another(
    session: Session, services: AppServices, settings: Settings
) -> None:
    first = a_store(session)
    second = a_store(session, domain="second-shop.myshopify.com")
    unsubscribed(session, settings, first.shop.id, "anna@example.com")
    paid_referral(session, second, "2001")

    prepare(session, services)
    assert outbox(session, second.shop.id, "reward_pending")[0].status is OutboxStatus.PENDING


def test_an_unused_reward_expiring_soon_is_reminded_once(
    session: Session, services: AppServices
) -> None:
    store = a_store(session, emails={"reminder_days_before": 7})
    rewards = issued_rewards(session, store)
    code = next(r.store_code for r in rewards if r.beneficiary is Beneficiary.ADVOCATE)
    expires = ISSUED_AT + timedelta(days=30)

    for at, queued in [(timedelta(days=7, hours=1), 0), (timedelta(days=7), 1), (timedelta(1), 1)]:
        queue_expiry_reminders(session, now=expires - at)
        assert len(outbox(session, store.shop.id, "expiry_reminder")) == queued

    prepare(session, services, expires - timedelta(days=7))
    (reminder,) = outbox(
        session, store.shop.id, "expiry_reminder"
    )  # store credit has no code to forget
    assert (
        reminder.payload["subject"] == "Your reward from Bella Ceramics expires on April 15, 2026"
    )
    assert f"Your reward code: {code}" in reminder.payload["text"]


@pytest.mark.parametrize("case", ["redeemed", "expired", "switched off"], ids=lambda case: case)
def test_no_reminder_for_a_used_or_expired_reward_or_when_switched_off(
    session: Session, case: str
) -> None:
    changes = enabled_except("expiry_reminder") if case == "switched off" else {}
    store = a_store(session, **changes)
    rewards = issued_rewards(session, store)
    expires = ISSUED_AT + timedelta(days=30)
    at = expires - timedelta(days=1)
    if case == "redeemed":
        reward = next(r for r in rewards if r.beneficiary is Beneficiary.ADVOCATE)
        mark_reward_redeemed(session, store.shop.id, reward.id, now=at)
    if case == "expired":
        at = expires + timedelta(minutes=1)
    queue_expiry_reminders(session, now=at)
    assert outbox(session, store.shop.id, "expiry_reminder") == []


def test_an_advocate_who_never_shared_is_nudged_once(
    session: Session, services: AppServices
) -> None:
    store = a_store(session, emails={"nudge_after_days": 7})

    for at, queued in [(timedelta(days=6, hours=23), 0), (timedelta(7), 1), (timedelta(8), 1)]:
        queue_share_nudges(session, now=NOW + at)
        assert len(outbox(session, store.shop.id, "share_nudge")) == queued

    prepare(session, services, NOW + timedelta(days=7))
    (nudge,) = outbox(session, store.shop.id, "share_nudge")
    assert nudge.recipient == "anna@example.com"
    assert (
        nudge.payload["subject"]
        == "Your friends can still get $5 in store credit at Bella Ceramics"
    )
    assert f"Your code: {store.anna.code}" in nudge.payload["text"]
    assert f"Your link: https://referrals.example.test/r/{store.anna.code}" in nudge.payload["text"]


def test_a_per_friend_programs_nudge_gives_the_link_not_the_advocates_code(
    session: Session, services: AppServices
) -> None:
    """The advocate's code is no checkout code there: friends claim their own through the link."""
    store = a_store(session, emails={"nudge_after_days": 7}, claim_mode="per_friend")
    queue_share_nudges(session, now=NOW + timedelta(days=7))

    prepare(session, services, NOW + timedelta(days=7))

    (nudge,) = outbox(session, store.shop.id, "share_nudge")
    assert (
        "Your code:" not in nudge.payload["text"]
        and store.anna.code not in nudge.payload["html"].split("/r/")[0]
    )
    assert f"Your link: https://referrals.example.test/r/{store.anna.code}" in nudge.payload["text"]


@pytest.mark.parametrize(
    "shared", ["clicked", "invited", "referred", "joined long ago", "program paused", "off"]
)
def test_no_nudge_after_sharing_or_outside_the_window(
    session: Session, settings: Settings, shared: str
) -> None:
    store = a_store(session, **(enabled_except("share_nudge") if shared == "off" else {}))
    at = NOW + timedelta(days=7)
    if shared == "clicked":
        session.add(Click(shop_id=store.shop.id, code_id=code_id(session, store), created_at=NOW))
    if shared == "invited":
        invite(session, settings, store, ["ola@example.com"])
    if shared == "referred":
        paid_referral(session, store)
    if shared == "joined long ago":
        at = NOW + timedelta(days=7) + NUDGE_WINDOW
    if shared == "program paused":
        update_program(session, store.shop.id, store.program_id, {"active": False}, now=NOW)
    session.flush()
    queue_share_nudges(session, now=at)
    assert outbox(session, store.shop.id, "share_nudge") == []


def test_a_shopper_held_out_by_an_ab_test_is_never_nudged(session: Session) -> None:
    """The test starts a minute after Anna joined (she has no group); Hana joins then and
    draws the holdout (0.05 of 10%): no code, nothing to share, no nudge."""
    start = NOW + timedelta(minutes=1)
    experiment = {
        "variants": [{"key": "a", "name": "A"}],
        "holdout_percent": 10,
        "started_at": start.isoformat(),
    }
    store = a_store(session, experiment=experiment)
    hana = enroll_advocate(
        session, store.shop.id, store.program_id, email="hana@example.com", now=start,
        random_value=lambda: 0.05,
    )  # fmt: skip
    assert hana.variant == "holdout" and hana.code == ""
    queue_share_nudges(session, now=start + timedelta(days=7))
    recipients = [m.recipient for m in outbox(session, store.shop.id, "share_nudge")]
    assert recipients == ["anna@example.com"]


def test_invitations_go_once_per_friend_never_to_the_advocate_in_the_page_language(
    session: Session, services: AppServices, settings: Settings
) -> None:
    store = a_store(session)
    friends = ["ola@example.com", "Anna@Example.com", "OLA@example.com"]
    assert invite(session, settings, store, friends, language="pl") == 1
    assert invite(session, settings, store, ["ola@example.com", "marco@example.com"]) == 1

    prepare(session, services)
    ola, marco = outbox(session, store.shop.id, "invite")
    assert (ola.recipient, marco.recipient) == ("ola@example.com", "marco@example.com")
    assert ola.payload["headers"]["Content-Language"] == "pl"
    link = f"https://referrals.example.test/r/{store.anna.code}"
    assert link in ola.payload["text"] and f'href="{link}"' in ola.payload["html"]
    assert marco.payload["subject"] == "Anna sent you $5 in store credit at Bella Ceramics"
    assert "You receive this email because Anna entered your address" in marco.payload["text"]


def test_no_invitation_to_an_unsubscribed_friend_nor_when_switched_off(
    session: Session, settings: Settings
) -> None:
    store = a_store(session)
    unsubscribed(session, settings, store.shop.id, "ola@example.com")
    assert invite(session, settings, store, ["ola@example.com"]) == 0
    other = a_store(session, domain="other.myshopify.com", **enabled_except("invite"))
    assert invite(session, settings, other, ["marco@example.com"]) == 0
    assert outbox(session, store.shop.id, "invite") == outbox(session, other.shop.id) == []


@pytest.mark.parametrize(
    ("first_name", "subject"),
    [
        ("Zoë", "Zoë sent you $5 in store credit at Bella Ceramics"),
        ("Visit evil.example", "A gift for you: $5 in store credit at Bella Ceramics"),
        ("Anna 2", "A gift for you: $5 in store credit at Bella Ceramics"),
    ],
    ids=["a name", "a link", "digits"],
)
def test_an_invitation_names_the_advocate_only_when_it_reads_as_a_name(
    session: Session, services: AppServices, settings: Settings, first_name: str, subject: str
) -> None:
    store = a_store(session)
    session.execute(
        update(Advocate).where(Advocate.id == store.anna.id).values(first_name=first_name)
    )
    invite(session, settings, store, ["ola@example.com"])

    prepare(session, services)
    (message,) = outbox(session, store.shop.id, "invite")
    assert message.payload["subject"] == subject


@pytest.mark.parametrize(
    ("in_store", "claim_mode", "shown"),
    [(True, "shared_code", True), (False, "shared_code", False), (True, "per_friend", False)],
    ids=["in the store", "not yet in the store", "per-friend codes"],
)
def test_an_invitation_shows_the_code_only_where_friends_can_type_it(
    session: Session,
    services: AppServices,
    settings: Settings,
    in_store: bool,
    claim_mode: str,
    shown: bool,
) -> None:
    friend_reward = {"kind": "percent_discount", "percent": "15"}
    store = a_store(session, friend_reward=friend_reward, claim_mode=claim_mode)
    synced = update(Code).where(Code.advocate_id == store.anna.id)
    session.execute(synced.values(store_synced_at=NOW if in_store else None))
    invite(session, settings, store, ["ola@example.com"])

    prepare(session, services)
    text = outbox(session, store.shop.id, "invite")[0].payload["text"]
    assert (f"Your code at checkout: {store.anna.code}" in text) is shown
    assert f"Get your gift: https://referrals.example.test/r/{store.anna.code}" in text


def test_a_persian_invitation_is_right_to_left(
    session: Session, services: AppServices, settings: Settings
) -> None:
    store = a_store(session)
    invite(session, settings, store, ["ola@example.com"], language="fa")

    prepare(session, services)
    html = outbox(session, store.shop.id, "invite")[0].payload["html"]
    assert '<html lang="fa" dir="rtl">' in html
    assert f'href="https://referrals.example.test/r/{store.anna.code}"' in html
    assert "هدیهٔ خود را بگیرید</a>" in html


def invite(
    session: Session, settings: Settings, store: Store, friends: list[str], language: str = "en"
) -> int:
    return invite_friends(
        session, store.shop.id, store.anna.id, friends, language=language,
        email_key=email_hash_key(settings.secret_key), now=NOW,
    )  # fmt: skip


def code_id(session: Session, store: Store) -> int:
    return session.scalars(
        select(Code.id).where(Code.advocate_id == store.anna.id, Code.shop_id == store.shop.id)
    ).one()


def test_the_merchant_s_own_headline_leads_the_advocate_emails_in_its_language(
    session: Session, services: AppServices
) -> None:
    copy = {"ro": {"headline": "Cadouri pentru prieteni <3"}}
    store = a_store(session, language="ro", copy=copy)
    english = a_store(session, domain="english.myshopify.com", language="en", copy=copy)
    at = NOW + timedelta(days=7)
    queue_share_nudges(session, now=at)

    prepare(session, services, at)
    (romanian,) = outbox(session, store.shop.id, "share_nudge")
    assert "<h1 " in romanian.payload["html"]
    assert ">Cadouri pentru prieteni &lt;3</h1>" in romanian.payload["html"]  # plain text
    assert "Cadouri pentru prieteni <3\n" in romanian.payload["text"]
    (other,) = outbox(session, english.shop.id, "share_nudge")
    assert ">Give $5 in store credit, get $10 off</h1>" in other.payload["html"]
