"""Segments on a real database, on the hand-built shop of `segment_builders` (its table says
who is in which segment and why): exactly the expected customers, numbers and order, the
exclusions (the program's advocates, unsubscribed, redacted, cancelled/test/unpaid orders),
keyset pages, another shop's program; and inviting: enrolled once, one welcome email each,
nothing more the second time, addresses outside the segment refused, the daily cap, the audit
entry."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from referral_plugin.app import AppServices
from referral_plugin.errors import Conflict, NotFound, ValidationError
from referral_plugin.models import Advocate, AuditEntry, Code, ExperimentAssignment
from referral_plugin.models.shopper_emails import EmailUnsubscribe
from referral_plugin.services.programs import update_program
from referral_plugin.services.segment_invites import InviteRequest, invite_segment
from referral_plugin.services.segments import (
    SegmentName,
    SegmentPage,
    SegmentQuery,
    chosen_customers,
    segment_page,
)
from tests.integration import builders as b
from tests.integration.builders import NOW
from tests.integration.email_builders import (  # noqa: F401 (services_fixture)
    Store,
    Worker,
    a_store,
    outbox,
    parts,
    services_fixture,
)
from tests.integration.segment_builders import EMAIL_KEY, record, segment_store
from tests.integration.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401

REPEAT = SegmentQuery(segment=SegmentName.REPEAT_BUYERS)
HIGH = SegmentQuery(segment=SegmentName.HIGH_SPENDERS)
RECENT = SegmentQuery(segment=SegmentName.RECENT_NOT_JOINED)


@pytest.fixture
def store(session: Session) -> Store:
    return segment_store(session)


def page(session: Session, store: Store, query: SegmentQuery, **kwargs: object) -> SegmentPage:
    return segment_page(
        session, store.shop.id, store.program_id, query, email_key=EMAIL_KEY, now=NOW, **kwargs
    )  # type: ignore[arg-type]


def rows(found: SegmentPage) -> list[tuple[object, ...]]:
    return [
        (c.email, c.orders, [(str(m.amount), m.currency) for m in c.spent], c.last_order_at)
        for c in found.customers
    ]


def days_ago(days: float):  # type: ignore[no-untyped-def]
    return NOW - timedelta(days=days)


def invite(session: Session, store: Store, query: SegmentQuery, emails=None, **kwargs):  # type: ignore[no-untyped-def]
    wanted = InviteRequest(query=query, emails=None if emails is None else tuple(emails))
    return invite_segment(
        session, store.shop.id, store.program_id, wanted, email_key=EMAIL_KEY,
        actor="merchant:owner@example.com", now=kwargs.pop("now", NOW), **kwargs,
    )  # fmt: skip


def test_repeat_buyers_are_customers_with_two_counted_orders_most_orders_first(
    session: Session, store: Store
) -> None:
    found = page(session, store, REPEAT)

    assert rows(found) == [
        ("Ben@Example.com", 3, [("210.00", "USD")], days_ago(40)),  # as on the latest order
        ("cara@example.com", 2, [("500.00", "USD")], days_ago(10)),
        ("josmith@gmail.com", 2, [("200.00", "USD")], days_ago(20)),  # one inbox, two spellings
        ("kim@example.com", 2, [("10.00", "USD"), ("40.00", "EUR")], days_ago(45)),
    ]
    # left out: anna (advocate), hal (unsubscribed), ivy (redacted), eve (one order cancelled),
    # fay (one a test), gus (never paid)
    assert (found.total, found.next_cursor, found.currency) == (4, None, "USD")
    assert (found.threshold, found.since) == (None, None)


def test_high_spenders_are_the_top_tenth_by_net_spend_or_above_a_threshold(
    session: Session, store: Store
) -> None:
    top = page(session, store, HIGH)
    # 9 paying customers (ivy's orders have no email any more): the top tenth is 1 customer
    assert [(c.email, c.spent[0].amount) for c in top.customers] == [
        ("dan@example.com", Decimal("1000.00"))
    ]
    assert top.threshold is not None and str(top.threshold) == "1000.00 USD"

    at_least = page(session, store, SegmentQuery(segment=SegmentName.HIGH_SPENDERS,
                                                 min_spent=Decimal("200")))  # fmt: skip
    assert [c.email for c in at_least.customers] == [
        "dan@example.com", "cara@example.com", "Ben@Example.com", "josmith@gmail.com",
    ]  # fmt: skip
    assert at_least.total == 4  # anna and hal (200 each) are left out, jo's tie is in


def test_the_top_tenth_is_rounded_up_and_ties_at_its_edge_are_in(session: Session) -> None:
    store = a_store(session, domain="tenth.myshopify.com")
    amounts = [10 * n for n in range(1, 22)] + [190]  # 22 paying customers, two spent 190
    for number, amount in enumerate(amounts):
        at = NOW - timedelta(days=number + 1)
        record(session, store, f"t-{number}", f"c{number}@example.com", at, f"{amount}.00", "paid")

    found = page(session, store, HIGH)

    # ceil(22 / 10) = 3: the third best spent 190, and so did another customer
    assert [(c.email, str(c.spent[0].amount)) for c in found.customers] == [
        ("c20@example.com", "210.00"), ("c19@example.com", "200.00"),
        ("c18@example.com", "190.00"), ("c21@example.com", "190.00"),
    ]  # fmt: skip
    assert str(found.threshold) == "190.00 USD"


def test_recent_buyers_who_have_not_joined_latest_first(session: Session, store: Store) -> None:
    found = page(session, store, RECENT)

    assert [(c.email, c.last_order_at) for c in found.customers] == [
        ("dan@example.com", days_ago(5)),
        ("cara@example.com", days_ago(10)),
        ("josmith@gmail.com", days_ago(20)),
    ]
    assert found.since == days_ago(30) and found.total == 3
    week = page(session, store, SegmentQuery(segment=SegmentName.RECENT_NOT_JOINED, days=7))
    assert [c.email for c in week.customers] == ["dan@example.com"]


def test_pages_follow_the_cursor_to_the_end(session: Session, store: Store) -> None:
    first = page(session, store, REPEAT, limit=3)
    assert [c.email for c in first.customers] == [
        "Ben@Example.com", "cara@example.com", "josmith@gmail.com",
    ]  # fmt: skip
    assert first.total == 4 and first.next_cursor is not None

    second = page(session, store, REPEAT, limit=3, cursor=first.next_cursor)
    assert [c.email for c in second.customers] == ["kim@example.com"]
    assert (second.total, second.next_cursor) == (4, None)

    with pytest.raises(ValidationError) as bad:
        page(session, store, RECENT, cursor=first.next_cursor)  # another segment's
    assert bad.value.errors[0].field == "cursor"
    with pytest.raises(ValidationError):
        page(session, store, REPEAT, cursor="not-a-cursor")


def test_without_unsubscribes_one_statement_pages_and_counts(
    session: Session, store: Store
) -> None:
    session.execute(delete(EmailUnsubscribe).where(EmailUnsubscribe.shop_id == store.shop.id))

    first = page(session, store, REPEAT, limit=4)
    assert first.total == 5 and first.next_cursor is not None  # hal is back
    assert [c.identity for c in first.customers] == [  # hal and jo tie: by identity
        "ben@example.com", "cara@example.com", "hal@example.com", "josmith@gmail.com",
    ]  # fmt: skip
    invite(session, store, REPEAT, ["kim@example.com"])  # the last one joins meanwhile
    past_the_end = page(session, store, REPEAT, limit=4, cursor=first.next_cursor)
    assert (past_the_end.customers, past_the_end.total) == ([], 4)
    spent = SegmentQuery(segment=SegmentName.HIGH_SPENDERS, min_spent=Decimal("200"))
    cursor = page(session, store, spent, limit=4).next_cursor  # dan, cara, ben, hal; then jo
    invite(session, store, spent, ["josmith@gmail.com"])
    high = page(session, store, spent, limit=4, cursor=cursor)
    assert (high.customers, high.total, str(high.threshold)) == ([], 4, "200.00 USD")


def test_names_come_from_an_enrollment_in_another_program(session: Session, store: Store) -> None:
    other = b.program(session, store.shop.id, b.ONE_SIDED, name="Other")
    b.advocate(session, store.shop.id, other.id, email="cara@example.com", first_name="Cara",
               last_name="Lopez")  # fmt: skip

    customers = page(session, store, REPEAT).customers
    (cara,) = [c for c in customers if c.identity == "cara@example.com"]
    assert (cara.first_name, cara.last_name) == ("Cara", "Lopez")


def test_another_shop_sees_none_of_it(session: Session, store: Store) -> None:
    other = segment_store(session, domain="other-shop.myshopify.com")

    with pytest.raises(NotFound):
        segment_page(session, other.shop.id, store.program_id, REPEAT, email_key=EMAIL_KEY, now=NOW)
    assert page(session, other, REPEAT).total == 4  # its own customers, the same table


def test_inviting_enrolls_and_queues_one_welcome_each_and_nothing_twice(
    session: Session, store: Store
) -> None:
    first = invite(session, store, REPEAT, ["ben@example.com", "Cara@Example.com"])

    assert (first.invited, first.already_members, first.skipped) == (2, 0, {})
    assert (first.remaining, first.more) == (2, True)
    enrolled = _advocates(session, store)
    assert set(enrolled) == {"anna@example.com", "ben@example.com", "cara@example.com"}
    welcomes = outbox(session, store.shop.id, "welcome")
    assert sorted(m.recipient for m in welcomes) == ["ben@example.com", "cara@example.com"]
    assert {m.dedup_key for m in welcomes} == {
        f"welcome:{enrolled['ben@example.com'].id}", f"welcome:{enrolled['cara@example.com'].id}",
    }  # fmt: skip

    again = invite(session, store, REPEAT, ["ben@example.com", "cara@example.com"])
    assert (again.invited, again.already_members) == (0, 2)
    assert len(outbox(session, store.shop.id, "welcome")) == 2
    assert [c.email for c in page(session, store, REPEAT).customers] == [
        "josmith@gmail.com", "kim@example.com",
    ]  # fmt: skip


def test_a_customer_the_ab_test_holds_out_is_recorded_and_not_mailed(
    session: Session, store: Store
) -> None:
    experiment = {
        "variants": [{"key": "a", "name": "A"}, {"key": "b", "name": "B"}],
        "holdout_percent": 10,
        "started_at": (NOW - timedelta(days=1)).isoformat(),
    }
    update_program(session, store.shop.id, store.program_id, {"experiment": experiment}, now=NOW)
    draws = iter([0.05, 0.9])  # holdout [0, 0.1): ben is held out, cara gets b

    result = invite(
        session, store, REPEAT, ["ben@example.com", "cara@example.com"],
        random_value=lambda: next(draws),
    )  # fmt: skip

    assert (result.invited, result.already_members, result.skipped) == (1, 0, {"held_out": 1})
    enrolled = _advocates(session, store)
    assert (enrolled["ben@example.com"].variant, enrolled["cara@example.com"].variant) == (
        "holdout",
        "b",
    )
    welcomes = outbox(session, store.shop.id, "welcome")
    assert [m.recipient for m in welcomes] == ["cara@example.com"]
    sources = session.scalars(
        select(ExperimentAssignment.source).where(
            ExperimentAssignment.program_id == store.program_id
        )
    ).all()
    assert [source.value for source in sources] == ["invite", "invite"]


def test_inviting_all_takes_the_segment_best_first_and_says_nothing_remains(
    session: Session, store: Store
) -> None:
    result = invite(session, store, RECENT)

    assert (result.invited, result.remaining, result.more) == (3, 0, False)
    assert {"dan@example.com", "cara@example.com", "josmith@gmail.com"} <= set(
        _advocates(session, store)
    )
    assert invite(session, store, RECENT).invited == 0
    assert len(outbox(session, store.shop.id, "welcome")) == 3


def test_addresses_outside_the_segment_are_refused_and_nothing_is_done(
    session: Session, store: Store
) -> None:
    with pytest.raises(ValidationError) as refused:
        invite(session, store, REPEAT, ["ben@example.com", "dan@example.com", "nobody@x.io"])

    assert refused.value.errors[0].field == "emails"
    assert "dan@example.com" in str(refused.value) and "nobody@x.io" in str(refused.value)
    assert "ben@example.com" not in str(refused.value)
    assert set(_advocates(session, store)) == {"anna@example.com"}


def test_members_and_unsubscribed_customers_of_the_segment_are_counted_not_mailed(
    session: Session, store: Store
) -> None:
    result = invite(session, store, REPEAT, ["anna@example.com", "hal@example.com"])

    assert (result.invited, result.already_members, result.skipped) == (0, 1, {"unsubscribed": 1})
    assert outbox(session, store.shop.id, "welcome") == []
    (entry,) = session.scalars(
        select(AuditEntry).where(
            AuditEntry.shop_id == store.shop.id, AuditEntry.action == "segment.invite"
        )
    )
    assert entry.subject_id == str(store.program_id)
    assert entry.details["already_members"] == 1 and entry.details["skipped"] == {"unsubscribed": 1}


def test_the_daily_cap_skips_the_rest_until_tomorrow(session: Session, store: Store) -> None:
    capped = invite(session, store, REPEAT, ["ben@example.com", "cara@example.com"], daily_cap=1)

    assert (capped.invited, capped.skipped, capped.daily_remaining) == (1, {"daily_limit": 1}, 0)
    assert capped.more is False
    assert invite(session, store, REPEAT, daily_cap=1).skipped == {"daily_limit": 3}
    tomorrow = invite(session, store, REPEAT, daily_cap=1, now=NOW + timedelta(days=1))
    assert tomorrow.invited == 1 and tomorrow.daily_remaining == 0


def test_only_an_active_program_sending_welcome_emails_invites(
    session: Session, store: Store
) -> None:
    update_program(session, store.shop.id, store.program_id, {"active": False}, now=NOW)
    with pytest.raises(Conflict):
        invite(session, store, REPEAT, ["ben@example.com"])
    update_program(
        session, store.shop.id, store.program_id,
        {"active": True, "emails": {"enabled": ["reward_issued"]}}, now=NOW,
    )  # fmt: skip
    with pytest.raises(Conflict):
        invite(session, store, REPEAT, ["ben@example.com"])
    assert set(_advocates(session, store)) == {"anna@example.com"}


def test_the_confirmation_lists_the_chosen_customers_of_the_segment(
    session: Session, store: Store
) -> None:
    chosen = chosen_customers(
        session, store.shop.id, store.program_id, REPEAT,
        ["kim@example.com", "ben@example.com", "dan@example.com"], now=NOW,
    )  # fmt: skip

    assert [c.email for c in chosen] == ["Ben@Example.com", "kim@example.com"]


def test_the_welcome_reaches_the_customer_over_smtp_once(
    session: Session, store: Store, services: AppServices, smtp_server: SmtpServer
) -> None:
    worker = Worker(session, services, smtp_server)
    invite(session, store, REPEAT, ["josmith@gmail.com"])
    worker.prepare()
    worker.send()
    invite(session, store, REPEAT, ["Jo.Smith+shop@gmail.com"])  # the same inbox: nothing new
    worker.prepare()
    worker.send()

    message = worker.received("josmith@gmail.com")  # exactly one
    assert message["Subject"] == "Your referral code for Bella Ceramics"
    advocate = _advocates(session, store)["josmith@gmail.com"]
    code = session.scalar(select(Code.code).where(Code.advocate_id == advocate.id))
    text, _ = parts(message)
    assert code is not None and code in text


def _advocates(session: Session, store: Store) -> dict[str, Advocate]:
    session.expire_all()
    found = session.scalars(
        select(Advocate).where(
            Advocate.shop_id == store.shop.id, Advocate.program_id == store.program_id
        )
    )
    return {a.email: a for a in found}
