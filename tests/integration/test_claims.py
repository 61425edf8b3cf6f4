"""Friends' claims and referral-link clicks on a real database: one code per inbox (also when
two requests claim at once, on PostgreSQL), self-referral refused, the code due for the store
and pushed as a single-use code bound to the email by the friend-code job, orders attributed
through the claim with the advocate's timeline, clicks counted once per browser and window,
and unknown codes counted per IP."""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from referral_plugin import friend_code_jobs
from referral_plugin.app import AppServices, build_services
from referral_plugin.domain.decisions import AttributionMethod, CodeKind
from referral_plugin.domain.events import OrderEventKind
from referral_plugin.domain.programs import RewardKind
from referral_plugin.domain.store import RewardCodeRequest, StoreClientError
from referral_plugin.domain.timeline import Step
from referral_plugin.errors import NotFound, ValidationError
from referral_plugin.friend_code_jobs import FriendCodeState
from referral_plugin.models import Advocate, AdvocateStatus, Claim, Click, Code, Referral
from referral_plugin.services import clicks
from referral_plugin.services.advocate_status import advocate_status
from referral_plugin.services.claims import SelfReferral, claim_friend_code
from referral_plugin.services.orders import record_order_event
from referral_plugin.services.redaction import marker_email
from referral_plugin.settings import Settings
from tests.fakes import FakeStoreClient, server_error
from tests.inbox_support import app_environ, own_database
from tests.integration.builders import (
    CODE_KEY,
    NOW,
    TWO_SIDED,
    advocate,
    later,
    order_event,
    program,
    shop,
)

PER_FRIEND = {**TWO_SIDED, "claim_mode": "per_friend"}
FRIEND_CODE = re.compile(r"FR-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}")


def a_claim(session: Session, shop_id: int, program_id: int, advocate_id: int, email: str) -> Any:
    return claim_friend_code(
        session, shop_id, program_id=program_id, advocate_id=advocate_id, email=email, now=NOW
    )


def codes(session: Session, shop_id: int, kind: CodeKind) -> list[Code]:
    query = select(Code).where(Code.shop_id == shop_id, Code.kind == kind).order_by(Code.id)
    return list(session.scalars(query))


# --- claims --------------------------------------------------------------------------------------


def test_a_claim_makes_an_unguessable_friend_code_bound_to_the_inbox(session: Session) -> None:
    shop_id = shop(session).id
    created = program(session, shop_id, PER_FRIEND)
    anna = advocate(session, shop_id, created.id)

    claimed = a_claim(session, shop_id, created.id, anna.id, " Bea.Smith+shop@GMAIL.com ")

    assert claimed.created and FRIEND_CODE.fullmatch(claimed.code)
    (code,) = codes(session, shop_id, CodeKind.FRIEND)
    assert (code.id, code.advocate_id, code.program_id) == (claimed.code_id, anna.id, created.id)
    assert code.friend_email == "beasmith@gmail.com"  # what orders are matched against
    assert code.store_email == "bea.smith+shop@gmail.com"  # what the store binds it to
    assert code.normalized == claimed.code.replace("-", "")
    assert code.store_next_attempt_at == NOW  # due for the store at once
    claim = session.scalars(select(Claim).where(Claim.shop_id == shop_id)).one()
    assert (claim.identity_email, claim.advocate_id, claim.claimed_at) == (
        "beasmith@gmail.com", anna.id, NOW,
    )  # fmt: skip


def test_the_same_inbox_gets_the_same_code_through_any_advocate_s_link(session: Session) -> None:
    shop_id = shop(session).id
    created = program(session, shop_id, PER_FRIEND)
    anna = advocate(session, shop_id, created.id)
    ben = advocate(session, shop_id, created.id, email="ben@example.com", first_name="Ben")
    first = a_claim(session, shop_id, created.id, anna.id, "bea@example.com")

    again = [
        a_claim(session, shop_id, created.id, anna.id, "BEA@example.com"),
        a_claim(session, shop_id, created.id, ben.id, "bea+other@example.com"),
    ]

    assert [(c.code_id, c.code, c.created) for c in again] == [
        (first.code_id, first.code, False)
    ] * 2
    assert len(codes(session, shop_id, CodeKind.FRIEND)) == 1
    claim = session.scalars(select(Claim).where(Claim.shop_id == shop_id)).one()
    assert claim.advocate_id == anna.id  # the first link wins


@pytest.mark.parametrize(
    ("label", "email"),
    [
        ("the same address", "anna.b@gmail.com"),
        ("another case", "ANNA.B@Gmail.com"),
        ("a plus tag", "anna.b+friends@gmail.com"),
        ("dots Gmail ignores", "a.n.n.a.b@googlemail.com"),
    ],
)
def test_the_advocate_s_own_inbox_is_refused(session: Session, label: str, email: str) -> None:
    shop_id = shop(session).id
    created = program(session, shop_id, PER_FRIEND)
    anna = advocate(session, shop_id, created.id, email="anna.b@gmail.com")
    with pytest.raises(SelfReferral) as refused:
        a_claim(session, shop_id, created.id, anna.id, email)
    assert isinstance(refused.value, ValidationError), label
    assert [e.field for e in refused.value.errors] == ["email"]
    assert session.scalars(select(Claim).where(Claim.shop_id == shop_id)).all() == []
    assert codes(session, shop_id, CodeKind.FRIEND) == []


def test_an_address_that_is_not_one_is_refused(session: Session) -> None:
    shop_id = shop(session).id
    created = program(session, shop_id, PER_FRIEND)
    anna = advocate(session, shop_id, created.id)
    with pytest.raises(ValidationError) as refused:
        a_claim(session, shop_id, created.id, anna.id, "bea@")
    assert [e.field for e in refused.value.errors] == ["email"]


def test_claims_need_an_active_per_friend_program_of_the_shop(session: Session) -> None:
    shop_id = shop(session).id
    shared = program(session, shop_id, TWO_SIDED)
    per_friend = program(session, shop_id, PER_FRIEND)
    anna = advocate(session, shop_id, shared.id)
    cid = advocate(session, shop_id, per_friend.id, email="cid@example.com")
    other_shop = shop(session, "other-store.myshopify.com").id
    with pytest.raises(NotFound):
        a_claim(session, shop_id, shared.id, anna.id, "bea@example.com")  # shared codes
    with pytest.raises(NotFound):
        a_claim(session, other_shop, per_friend.id, cid.id, "bea@example.com")
    with pytest.raises(NotFound):
        a_claim(session, shop_id, per_friend.id, anna.id, "bea@example.com")  # not its advocate
    session.execute(
        update(Advocate).where(Advocate.id == cid.id).values(status=AdvocateStatus.BLOCKED)
    )
    with pytest.raises(NotFound):
        a_claim(session, shop_id, per_friend.id, cid.id, "bea@example.com")


# --- orders through a claim, and the advocate's timeline --------------------------------------


def test_orders_through_a_claim_show_clicked_claimed_ordered_on_the_status(
    session: Session,
) -> None:
    shop_id = shop(session).id
    created = program(session, shop_id, PER_FRIEND)
    anna = advocate(session, shop_id, created.id)
    bea = a_claim(session, shop_id, created.id, anna.id, "bea@example.com")
    a_claim(session, shop_id, created.id, anna.id, "cid@example.com")
    with_code = order_event(OrderEventKind.PAID, "3001", codes=(bea.code,), email="bea@example.com")
    by_email = order_event(OrderEventKind.PAID, "3002", codes=(), email="cid+shop@example.com")
    stolen = order_event(OrderEventKind.PAID, "3003", codes=(bea.code,), email="eve@example.com")
    for event in (with_code, by_email, stolen):
        record_order_event(session, shop_id, event, now=later(hours=1), code_key=CODE_KEY)

    status = advocate_status(session, shop_id, anna.id)

    methods = [
        r.method
        for r in session.scalars(
            select(Referral).where(Referral.shop_id == shop_id).order_by(Referral.id)
        )
    ]
    assert methods == [
        AttributionMethod.CODE,
        AttributionMethod.CLAIM_EMAIL,
        AttributionMethod.CODE,
    ]
    first, second, third = status.referrals
    for line in (first, second):
        assert [s.step for s in line.steps] == [
            Step.CLICKED, Step.CLAIMED, Step.ORDERED, Step.PENDING,
        ]  # fmt: skip
        assert line.steps[1].at == NOW and line.steps[-1].until is not None
    assert [s.step for s in third.steps] == [Step.ORDERED, Step.DECLINED]
    assert third.steps[-1].reason == "friend_code_other_email"  # bound to Bea, used by Eve


# --- clicks and the guard against guessing ----------------------------------------------------


def test_a_click_counts_once_per_browser_within_the_window(session: Session) -> None:
    shop_id = shop(session).id
    created = program(session, shop_id, TWO_SIDED)
    anna = advocate(session, shop_id, created.id)
    link = clicks.find_referral_link(session, anna.code.lower())
    ip = clicks.ip_hash(CODE_KEY, "203.0.113.5")

    def click(at: timedelta, user_agent: str = "Mozilla/5.0", ip_hash: Any = ip) -> bool:
        return clicks.record_click(
            session, link, ip_hash=ip_hash, user_agent=user_agent, landing_url=None, now=NOW + at
        )

    assert click(timedelta(0))
    assert not click(timedelta(minutes=29))  # the same friend again: one click
    assert click(timedelta(minutes=31))  # a window after the first
    assert click(timedelta(minutes=31), user_agent="Mozilla/5.0 (iPhone)")  # another device
    assert click(timedelta(minutes=32), ip_hash=None) and click(timedelta(minutes=32), ip_hash=None)
    assert advocate_status(session, shop_id, anna.id).clicks == 5
    stored = session.scalars(select(Click).where(Click.shop_id == shop_id)).all()
    assert {row.ip_hash for row in stored} == {ip, None}
    assert ip == clicks.ip_hash(CODE_KEY, "203.0.113.5") and "203" not in ip


def test_only_live_advocate_codes_are_links(session: Session) -> None:
    shop_id = shop(session).id
    created = program(session, shop_id, PER_FRIEND)
    anna = advocate(session, shop_id, created.id)
    bea = a_claim(session, shop_id, created.id, anna.id, "bea@example.com")
    found = clicks.find_referral_link(session, f" {anna.code.lower()} ")
    assert (found.advocate_id, found.code, found.page.program.id) == (
        anna.id,
        anna.code,
        created.id,
    )
    for code in (bea.code, "", "NOPE-2345-6789"):
        with pytest.raises(NotFound):
            clicks.find_referral_link(session, code)
    session.execute(
        update(Advocate).where(Advocate.id == anna.id).values(status=AdvocateStatus.BLOCKED)
    )
    with pytest.raises(NotFound):
        clicks.find_referral_link(session, anna.code)


def test_unknown_codes_are_counted_per_ip_and_window(session: Session) -> None:
    key, ip, other = b"link-key", "2001:db8::77", "2001:db8::78"

    def blocked(at: Any, who: str = ip) -> Any:
        return clicks.lookups_blocked_until(session, key=key, ip=who, limit=2, now=at)

    assert [clicks.count_miss(session, key=key, ip=ip, now=NOW) for _ in range(2)] == [1, 2]
    window_end = NOW.replace(minute=0) + timedelta(hours=1)
    assert blocked(NOW) == window_end and blocked(NOW, other) is None
    assert blocked(window_end) is None  # a new window
    assert clicks.count_miss(session, key=key, ip=ip, now=window_end) == 1


@pytest.mark.parametrize(
    ("agent", "purpose", "preview"),
    [
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1", None, False),
        ("Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36", None, False),
        (
            "Mozilla/5.0 (Linux; Android 10; CUBOT X30) Chrome/131.0 Mobile Safari/537.36",
            None,
            False,
        ),  # a phone whose maker ends in "bot"
        ("Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0", "prefetch", True),
        ("TelegramBot (like TwitterBot)", None, True),
        ("Twitterbot/1.0", None, True),
        ("LinkedInBot/1.0 (compatible; Mozilla/5.0)", None, True),
        ("Discordbot/2.0", None, True),
        ("WhatsApp/2.23.20.0 A", None, True),
        ("Mozilla/5.0 (compatible; bingbot/2.0)", None, True),
        ("curl/8.5.0", None, True),
        (None, None, True),
    ],
)
def test_link_previews_are_told_from_browsers(agent: Any, purpose: Any, preview: bool) -> None:
    assert clicks.is_link_preview(agent, purpose) is preview


# --- the claimed code into the store --------------------------------------------------------


@pytest.fixture
def services(tmp_path: Path) -> Iterator[AppServices]:
    with own_database(tmp_path) as url:
        environ = app_environ(url, tmp_path, "claims-test", "https://referrals.example.test")
        built = build_services(Settings.from_env(environ))
        yield built
        built.engine.dispose()


def claimed_world(
    services: AppServices, *emails: str, config: Any = PER_FRIEND
) -> tuple[int, str, list[Any]]:
    """A shop whose per-friend program has Anna, and friends who claimed: (shop id, Anna's
    code, the claims)."""
    with services.sessions.begin() as session:
        shop_id = shop(session).id
        created = program(session, shop_id, config)
        anna = advocate(session, shop_id, created.id)
        claimed = [a_claim(session, shop_id, created.id, anna.id, e) for e in emails]
        return shop_id, anna.code, claimed


def code_row(services: AppServices, code_id: int) -> Code:
    with services.sessions.begin() as session:
        return session.get(Code, code_id)


def test_the_job_pushes_claimed_codes_one_by_one_bound_to_the_email(
    services: AppServices,
) -> None:
    shop_id, _, (bea, cid) = claimed_world(services, "Bea@Example.com", "cid@example.com")
    store = FakeStoreClient()

    pushed = friend_code_jobs.sync_friend_codes(
        None, now=later(hours=1), services=services, client_for=lambda shop, s: store
    )

    assert pushed == 2  # the claimed codes, each on its own
    # Anna's own code stays out: in a per-friend program only claimed codes work at checkout
    assert store.calls_to("add_friend_codes") == []
    with services.sessions.begin() as session:
        (anna_code,) = codes(session, shop_id, CodeKind.ADVOCATE)
        assert (anna_code.store_next_attempt_at, anna_code.store_synced_at) == (None, None)
    requests: list[RewardCodeRequest] = store.calls_to("issue_reward")  # type: ignore[assignment]
    assert [(r.code, r.email, r.friend_code_id) for r in requests] == [
        (bea.code, "bea@example.com", bea.code_id), (cid.code, "cid@example.com", cid.code_id),
    ]  # fmt: skip
    request = requests[0]
    assert request.reward_id is None and request.title == f"Referral friend code {bea.code}"
    assert (request.kind, request.percent) == (RewardKind.PERCENT_DISCOUNT, Decimal("15"))
    row = code_row(services, bea.code_id)
    assert (row.store_synced_at, row.store_email, row.store_next_attempt_at) == (
        later(hours=1), None, None,
    )  # fmt: skip


def test_one_refused_claimed_code_does_not_stop_the_others(services: AppServices) -> None:
    shop_id, _, (bea, cid) = claimed_world(services, "bea@example.com", "cid@example.com")
    store = FakeStoreClient().fail_next(
        StoreClientError("code taken", retryable=False, code="TAKEN")
    )
    now = later(hours=1)

    first = friend_code_jobs.push_code(services, shop_id, bea.code_id, now=now,
                                       client_for=lambda shop, s: store)  # fmt: skip
    second = friend_code_jobs.push_code(services, shop_id, cid.code_id, now=now,
                                        client_for=lambda shop, s: store)  # fmt: skip

    assert (first.state, second.state) == (FriendCodeState.FAILED, FriendCodeState.IN_STORE)
    refused = code_row(services, bea.code_id)
    assert "TAKEN" in refused.store_error and refused.store_email == "bea@example.com"


def test_a_store_that_fails_keeps_the_claimed_code_due_with_its_next_attempt(
    services: AppServices,
) -> None:
    shop_id, _, (bea,) = claimed_world(services, "bea@example.com")
    store = FakeStoreClient().fail_next(server_error(503))
    now = later(hours=1)

    push = friend_code_jobs.push_code(
        services, shop_id, bea.code_id, now=now, client_for=lambda shop, s: store
    )

    assert push.state is FriendCodeState.PENDING and push.retry_at == now + timedelta(minutes=1)
    row = code_row(services, bea.code_id)
    assert (row.store_attempts, row.store_email) == (1, "bea@example.com")
    assert "status=503" in row.store_error
    later_push = friend_code_jobs.push_code(
        services, shop_id, bea.code_id, now=push.retry_at, client_for=lambda shop, s: store
    )
    assert later_push.state is FriendCodeState.IN_STORE and later_push.retry_at is None


def test_a_redacted_friend_s_code_never_goes_to_the_store(services: AppServices) -> None:
    shop_id, _, (bea,) = claimed_world(services, "bea@example.com")
    with services.sessions.begin() as session:  # as customers/redact leaves it
        code = session.get(Code, bea.code_id)
        code.friend_email = marker_email("code", code.id)
    store = FakeStoreClient()
    push = friend_code_jobs.push_code(
        services, shop_id, bea.code_id, now=later(hours=1), client_for=lambda shop, s: store
    )
    assert push.state is FriendCodeState.NOT_FOR_STORE
    assert (
        store.calls_to("issue_reward") == [] and code_row(services, bea.code_id).store_email is None
    )


def test_a_friend_reward_no_discount_expresses_stays_out_of_the_store(
    services: AppServices,
) -> None:
    credit = {**PER_FRIEND, "friend_reward": {"kind": "store_credit", "amount": "5.00"}}
    shop_id, _, (bea,) = claimed_world(services, "bea@example.com", config=credit)
    store = FakeStoreClient()
    push = friend_code_jobs.push_code(
        services, shop_id, bea.code_id, now=later(hours=1), client_for=lambda shop, s: store
    )
    assert push.state is FriendCodeState.NOT_FOR_STORE and store.calls == []


# --- concurrency -------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="SQLite has one writer: no race to win"
)
def test_two_claims_of_one_inbox_at_once_make_one_claim(services: AppServices) -> None:
    with services.sessions.begin() as session:
        shop_id = shop(session).id
        created = program(session, shop_id, PER_FRIEND)
        anna = advocate(session, shop_id, created.id)
    both_checked = threading.Barrier(2, timeout=10)

    class MeetFirst:
        """Picks code characters at random; the first pick waits until both claims passed
        their lookup of an existing claim, so both go on to insert one."""

        def __init__(self) -> None:
            self.waited = False
            self.random = secrets.SystemRandom()

        def choice(self, seq: str) -> str:
            if not self.waited:
                self.waited = True
                both_checked.wait()
            return self.random.choice(seq)

    def claim_once(email: str) -> Any:
        with services.sessions.begin() as session:
            return claim_friend_code(
                session, shop_id, program_id=created.id, advocate_id=anna.id, email=email,
                now=NOW, chooser=MeetFirst(),
            )  # fmt: skip

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(claim_once, ["bea@example.com", "BEA+x@example.com"]))

    assert {a.code_id for a in answers} == {answers[0].code_id}
    assert sorted(a.created for a in answers) == [False, True]
    with services.sessions.begin() as session:
        assert len(session.scalars(select(Claim).where(Claim.shop_id == shop_id)).all()) == 1
        assert len(codes(session, shop_id, CodeKind.FRIEND)) == 1
