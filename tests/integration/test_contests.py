"""Contests on a real database: which referrals are entries (converted, paid inside the window,
not reversed, not in review, not blocked), the ranking and its ties, the masked public board
with the viewer's own rank, one cheap query through the new index, and recorded draws that
re-run identically and notice a referral reversed after them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, select
from sqlalchemy.orm import Session

from referral_plugin.domain.contest_draw import Weighting
from referral_plugin.domain.decisions import AttributionMethod, Outcome
from referral_plugin.domain.events import OrderEventKind
from referral_plugin.domain.lifecycle import ReferralStatus
from referral_plugin.domain.programs import Program
from referral_plugin.errors import Conflict, NotFound, ValidationError
from referral_plugin.models import Advocate, AdvocateStatus, AuditEntry, Conversion, Referral
from referral_plugin.models.contests import ContestDraw
from referral_plugin.services import contest_draws, contests
from referral_plugin.services.advocates import EnrolledAdvocate
from referral_plugin.services.orders import record_order_event
from referral_plugin.services.rewards import approve_referral
from tests.integration import builders as b

PLACED, PAID = OrderEventKind.PLACED, OrderEventKind.PAID
CANCELLED, REFUNDED = OrderEventKind.CANCELLED, OrderEventKind.REFUNDED
STARTS = datetime(2026, 3, 1, tzinfo=UTC)
ENDS = datetime(2026, 3, 10, tzinfo=UTC)
AFTER = ENDS + timedelta(days=1)
CONTEST: dict[str, Any] = {
    "name": "Spring contest",
    "kind": "contest",
    "conditions": {"starts_at": "2026-03-01T00:00:00Z", "ends_at": "2026-03-10T00:00:00Z"},
}


class Contest:
    """A contest program in a shop, and friends' orders with advocates' codes."""

    def __init__(self, session: Session, domain: str = "referral-tests.myshopify.com") -> None:
        self.session = session
        self.shop = b.shop(session, domain)
        self.program = b.program(session, self.shop.id, CONTEST)
        self.orders = 0

    def advocate(self, email: str, first: str | None = None, last: str | None = None):
        return b.advocate(
            self.session, self.shop.id, self.program.id, email, first_name=first, last_name=last
        )

    def anna_and_bea(self) -> tuple[EnrolledAdvocate, EnrolledAdvocate]:
        return self.advocate("anna@example.com"), self.advocate("bea@example.com")

    def order(
        self,
        advocate: EnrolledAdvocate,
        *,
        paid: datetime | None,
        friend: str | None = None,
    ) -> str:
        """A friend's order with the advocate's code (placed inside the window), paid at `paid`."""
        self.orders += 1
        order_id = f"{self.shop.id}-{self.orders}"
        email = friend or f"friend-{order_id}@example.com"
        self.record(b.order_event(PLACED, order_id, codes=(advocate.code,), email=email))
        if paid is not None:
            self.record(
                b.order_event(PAID, order_id, codes=(advocate.code,), email=email, at=paid), paid
            )
        return order_id

    def entries_of(self, advocate: EnrolledAdvocate, *paid: datetime) -> list[str]:
        return [self.order(advocate, paid=moment) for moment in paid]

    def record(self, order_event, at: datetime = b.NOW) -> None:
        record_order_event(self.session, self.shop.id, order_event, now=at, code_key=b.CODE_KEY)

    def board(self, *, top: int = 10, advocate_id: int | None = None, now: datetime = AFTER):
        return contests.leaderboard(
            self.session, self.shop.id, self.program, now=now, top=top, advocate_id=advocate_id
        )

    def referral(self, order_id: str) -> Referral:
        return self.session.scalars(
            select(Referral)
            .join(Conversion, Conversion.id == Referral.conversion_id)
            .where(Conversion.shop_id == self.shop.id, Conversion.order_id == order_id)
        ).one()

    def draw(self, winners: int = 1, seed: str | None = "s", weighting=Weighting.PER_ENTRY):
        request = contest_draws.DrawRequest(winners=winners, seed=seed, weighting=weighting)
        return contest_draws.draw_contest(
            self.session, self.shop.id, self.program.id, request, actor="tester", now=AFTER
        )


def day(n: int, hours: int = 12) -> datetime:
    return datetime(2026, 3, n, hours, tzinfo=UTC)


@pytest.fixture
def contest(session: Session) -> Contest:
    return Contest(session)


# --- entries ---------------------------------------------------------------------------------


def test_only_converted_referrals_paid_inside_the_window_are_entries(contest: Contest) -> None:
    anna = contest.advocate("anna@example.com", "Anna")
    counted = contest.entries_of(anna, day(3), day(4))
    contest.order(anna, paid=None)  # placed, never paid: pending
    contest.order(anna, paid=ENDS + timedelta(minutes=1))  # placed inside, paid after the end
    contest.order(anna, paid=ENDS)  # the end is exclusive
    refunded = contest.order(anna, paid=day(5))
    contest.record(b.order_event(REFUNDED, refunded, refunds=(("r1", "100.00"),), with_data=False))
    cancelled = contest.order(anna, paid=day(6))
    contest.record(b.order_event(CANCELLED, cancelled, with_data=False))
    reviewed = contest.order(anna, paid=day(7), friend="someone@mailinator.com")

    assert contest.referral(refunded).status is ReferralStatus.REVERSED
    assert contest.referral(reviewed).status is ReferralStatus.REVIEW
    entries = contests.contest_entries(
        contest.session,
        contest.shop.id,
        contest.program.id,
        contests.contest_window(contest.program),
    )
    assert sorted(e.referral_id for e in entries) == sorted(
        contest.referral(order).id for order in counted
    )
    board = contest.board()
    assert (board.entries, board.advocates, board.top[0].entries) == (2, 1, 2)
    summary = contests.contest_summary(
        contest.session, contest.shop.id, contest.program.id, now=AFTER, top=10
    )
    assert summary["totals"] == {"entries": 2, "advocates": 1, "in_review": 1}

    approve_referral(contest.session, contest.shop.id, contest.referral(reviewed).id, now=AFTER)
    assert contest.board().entries == 3  # approved after review: now an entry


def test_an_order_paid_before_the_start_is_no_entry(session: Session) -> None:
    contest = Contest(session)
    anna = contest.advocate("anna@example.com")
    contest.order(anna, paid=STARTS - timedelta(seconds=1))
    contest.order(anna, paid=STARTS)  # the start is inclusive

    assert contest.board().entries == 1


def test_a_blocked_advocate_leaves_the_board(contest: Contest) -> None:
    anna, bea = contest.anna_and_bea()
    contest.entries_of(anna, day(3), day(4))
    contest.entries_of(bea, day(3))
    contest.session.get(Advocate, anna.id).status = AdvocateStatus.BLOCKED
    contest.session.flush()

    board = contest.board()
    assert [(s.advocate_id, s.entries) for s in board.top] == [(bea.id, 1)]
    assert (board.entries, board.advocates) == (1, 1)


# --- ranking ---------------------------------------------------------------------------------


def test_more_entries_rank_higher_and_a_tie_goes_to_who_reached_it_first(
    contest: Contest,
) -> None:
    bea = contest.advocate("bea@example.com", "Bea")  # the lower id, yet reaches 2 later
    anna = contest.advocate("anna@example.com", "Anna")
    cleo = contest.advocate("cleo@example.com", "Cleo")
    dan = contest.advocate("dan@example.com", "Dan")
    contest.entries_of(bea, day(2), day(6))
    contest.entries_of(anna, day(3), day(5))
    contest.entries_of(cleo, day(4), day(7), day(8))
    contest.entries_of(dan, day(3, 9))

    board = contest.board()

    assert [(s.rank, s.advocate_id, s.entries) for s in board.top] == [
        (1, cleo.id, 3),
        (2, anna.id, 2),
        (3, bea.id, 2),
        (4, dan.id, 1),
    ]
    assert board.top[1].reached_at == day(5)
    assert (board.entries, board.advocates) == (8, 4)


def test_the_same_count_at_the_same_moment_goes_to_the_lower_advocate_id(
    contest: Contest,
) -> None:
    anna, bea = contest.anna_and_bea()
    contest.entries_of(bea, day(4))
    contest.entries_of(anna, day(4))

    assert [s.advocate_id for s in contest.board().top] == [anna.id, bea.id]


def test_the_state_follows_the_window(contest: Contest) -> None:
    moments = (STARTS - timedelta(seconds=1), STARTS, day(5), ENDS - timedelta(seconds=1), ENDS)

    assert [contest.board(now=moment).state.value for moment in moments] == [
        "upcoming", "running", "running", "running", "ended"
    ]  # fmt: skip


# --- the public board ------------------------------------------------------------------------


def test_the_public_board_masks_names_and_shows_the_viewers_own_rank(contest: Contest) -> None:
    anna = contest.advocate("anna.kowalski@example.com", "Anna", "kowalski")
    noname = contest.advocate("bartek@example.com")
    sneaky = contest.advocate("cleo@example.com", "cleo@example.com", "C")
    viewer = contest.advocate("dana@example.com", "Dana", "Smith")
    contest.entries_of(anna, day(2), day(3), day(4))
    contest.entries_of(noname, day(2), day(3))
    contest.entries_of(sneaky, day(2), day(4))
    contest.entries_of(viewer, day(5))

    board = contest.board(top=2, advocate_id=viewer.id)
    rows = contests.public_standings(board)

    assert [(r.rank, r.name, r.entries, r.is_me) for r in rows] == [
        (1, "Anna K.", 3, False),
        (2, "b•••@example.com", 2, False),
        (4, "Dana S.", 1, True),
    ]
    assert board.me is not None and board.me.rank == 4
    assert all("bartek" not in r.name and "cleo@" not in r.name for r in rows)
    sneaky_row = contests.public_standings(contest.board(top=3))[2]
    assert sneaky_row.name == "c•••@example.com"  # an email typed as a name is not shown


def test_a_viewer_without_entries_has_no_standing(contest: Contest) -> None:
    anna, bea = contest.anna_and_bea()
    contest.entries_of(anna, day(2))

    board = contest.board(advocate_id=bea.id)

    assert board.me is None and [r.is_me for r in contests.public_standings(board)] == [False]


@pytest.mark.parametrize(
    ("first", "last", "email", "shown"),
    [
        ("Anna", "Kowalska", "anna@example.com", "Anna K."),
        ("  Anna ", None, "anna@example.com", "Anna"),
        ("Łucja", "żak", "l@example.com", "Łucja Ż."),
        (None, "Kowalska", "anna@example.com", "a•••@example.com"),
        ("", "", "z@example.com", "z•••@example.com"),
        (None, None, "not-an-email", "•••"),
    ],
)
def test_public_names(first: str | None, last: str | None, email: str, shown: str) -> None:
    assert contests.public_name(first, last, email) == shown


# --- cheap: one query, through the index -------------------------------------------------------


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def test_the_leaderboard_is_one_query(contest: Contest, statements: list[str]) -> None:
    anna, bea = contest.anna_and_bea()
    contest.entries_of(anna, day(2), day(3))
    contest.entries_of(bea, day(4))
    contest.session.flush()
    statements.clear()

    board = contest.board(top=1, advocate_id=bea.id)

    assert (board.entries, board.top[0].advocate_id, board.me.rank) == (3, anna.id, 2)
    assert len(statements) == 1


def populate(session: Session, shop_id: int, programs: int = 8, per_program: int = 250) -> None:
    """A shop with many programs and referrals, written directly: what the planner sees."""
    for number in range(programs):
        program = b.program(session, shop_id, {**CONTEST, "name": f"Other {number}"})
        advocate = b.advocate(session, shop_id, program.id, f"bulk-{number}@example.com")
        conversion_ids = session.scalars(
            insert(Conversion).returning(Conversion.id, sort_by_parameter_order=True),
            [bulk_conversion(shop_id, f"bulk-{number}-{i}") for i in range(per_program)],
        ).all()
        session.execute(
            insert(Referral),
            [
                bulk_referral(shop_id, program.id, advocate.id, conversion_id, i)
                for i, conversion_id in enumerate(conversion_ids)
            ],
        )


def bulk_conversion(shop_id: int, order_id: str) -> dict[str, Any]:
    return {
        "shop_id": shop_id, "order_id": order_id, "currency": "USD", "subtotal": 10,
        "total": 10, "refunded_total": 0, "paid": True, "paid_at": day(3), "cancelled": False,
        "is_test": False, "outcome": Outcome.ACCEPTED, "reasons": [], "fraud": [],
        "signals": {}, "decided_at": day(3), "updated_at": day(3),
    }  # fmt: skip


def bulk_referral(
    shop_id: int, program_id: int, advocate_id: int, conversion_id: int, number: int
) -> dict[str, Any]:
    statuses = (ReferralStatus.CONVERTED, ReferralStatus.PENDING, ReferralStatus.REVERSED)
    return {
        "shop_id": shop_id, "program_id": program_id, "advocate_id": advocate_id,
        "conversion_id": conversion_id, "status": statuses[number % 3],
        "method": AttributionMethod.CODE, "code": "BULK", "reasons": [],
        "created_at": day(3), "updated_at": day(3),
    }  # fmt: skip


def test_the_leaderboard_reads_the_contests_referrals_through_the_index(
    contest: Contest,
) -> None:
    anna = contest.advocate("anna@example.com")
    contest.entries_of(anna, day(2), day(3))
    populate(contest.session, contest.shop.id)
    program: Program = contest.program
    query = contests.leaderboard_query(
        contest.shop.id, program.id, contests.contest_window(program), top=10, advocate_id=None
    )
    connection = contest.session.connection()
    dialect = connection.dialect
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    connection.exec_driver_sql("ANALYZE")  # statistics of the rows above (this transaction's)
    explain = "EXPLAIN QUERY PLAN" if dialect.name == "sqlite" else "EXPLAIN"
    plan = "\n".join(str(row[-1]) for row in connection.exec_driver_sql(f"{explain} {sql}"))

    assert "ix_referrals_shop_id_program_id_status" in plan, plan
    assert contest.board().entries == 2  # the other programs' referrals are not its entries


# --- scoping ---------------------------------------------------------------------------------


def test_another_shops_contest_and_other_kinds_are_not_found(contest: Contest) -> None:
    other = Contest(contest.session, "other-contest.myshopify.com")
    two_sided = b.program(contest.session, contest.shop.id, b.TWO_SIDED)

    for program_id in (other.program.id, two_sided.id, 999_999):
        with pytest.raises(NotFound):
            contests.contest_program(contest.session, contest.shop.id, program_id)
        with pytest.raises(NotFound):
            contest_draws.list_draws(contest.session, contest.shop.id, program_id)


# --- draws -----------------------------------------------------------------------------------


def test_a_draw_needs_an_ended_contest_with_entries(contest: Contest) -> None:
    anna = contest.advocate("anna@example.com")
    request = contest_draws.DrawRequest(winners=1, seed=None, weighting=Weighting.PER_ENTRY)
    session, shop_id, program_id = contest.session, contest.shop.id, contest.program.id

    with pytest.raises(Conflict, match="has no entries"):
        contest.draw()
    contest.entries_of(anna, day(2))
    with pytest.raises(Conflict, match="ends at 2026-03-10T00:00:00Z"):
        contest_draws.draw_contest(session, shop_id, program_id, request, actor="t", now=day(9))
    with pytest.raises(ValidationError) as too_many:
        contest.draw(winners=2)
    assert too_many.value.errors[0].field == "winners"
    endless = b.program(session, shop_id, {**CONTEST, "conditions": {}})
    with pytest.raises(Conflict, match="no end date"):
        contest_draws.draw_contest(session, shop_id, endless.id, request, actor="t", now=AFTER)
    assert session.scalars(select(ContestDraw).where(ContestDraw.shop_id == shop_id)).all() == []


def test_a_draw_is_recorded_audited_and_reproducible(contest: Contest) -> None:
    people = [contest.advocate(f"p{i}@example.com", f"P{i}") for i in range(6)]
    for index, person in enumerate(people):
        contest.entries_of(person, *(day(2 + n, 8 + index) for n in range(index + 1)))

    first = contest.draw(winners=3, seed="spring-2026")
    again = contest.draw(winners=3, seed="spring-2026")
    generated = contest.draw(winners=3, seed=None)

    assert [w["advocate_id"] for w in first["winners"]] == [
        w["advocate_id"] for w in again["winners"]
    ]
    assert len({w["advocate_id"] for w in first["winners"]}) == 3
    assert (first["entries"], first["advocates"], first["seed_source"]) == (21, 6, "merchant")
    assert generated["seed_source"] == "generated" and len(generated["seed"]) == 64
    int(generated["seed"], 16)
    listed = contest_draws.list_draws(contest.session, contest.shop.id, contest.program.id)
    assert [d["id"] for d in listed] == [generated["id"], again["id"], first["id"]]
    assert first["drawn_by"] == "tester" and first["drawn_at"] == "2026-03-11T00:00:00Z"
    winner = first["winners"][0]
    person = contest.session.get(Advocate, winner["advocate_id"])
    assert (winner["position"], winner["email"]) == (1, person.email)
    audit = contest.session.scalars(
        select(AuditEntry).where(AuditEntry.shop_id == contest.shop.id).order_by(AuditEntry.id)
    ).all()
    assert [a.action for a in audit] == ["contest.drawn"] * 3
    assert audit[0].details["entries_digest"] == first["entries_digest"]
    assert audit[0].subject_id == str(first["id"])


def test_verify_says_plainly_when_a_referral_was_reversed_after_the_draw(
    contest: Contest,
) -> None:
    anna = contest.advocate("anna@example.com", "Anna")
    bea = contest.advocate("bea@example.com", "Bea")
    annas = contest.entries_of(anna, day(2), day(3), day(4))
    contest.entries_of(bea, day(5))
    draw = contest.draw(winners=2, weighting=Weighting.PER_ADVOCATE)
    verified = contest_draws.verify_draw(
        contest.session, contest.shop.id, contest.program.id, draw["id"]
    )
    assert verified["verified"] and verified["changed_referrals"] == []
    assert verified["message"].startswith("Verified")

    refund = b.order_event(REFUNDED, annas[0], refunds=(("r1", "100.00"),), with_data=False)
    contest.record(refund, AFTER + timedelta(hours=1))
    after = contest_draws.verify_draw(
        contest.session, contest.shop.id, contest.program.id, draw["id"]
    )

    assert (after["verified"], after["entries_match"], after["winners_match"]) == (
        False,
        False,
        True,
    )  # per advocate, both still have an entry: the same winners
    assert after["recorded"]["entries"] == 4 and after["current"]["entries"] == 3
    assert [c["referral_id"] for c in after["changed_referrals"]] == [contest.referral(annas[0]).id]
    assert after["changed_referrals"][0]["status"] == "reversed"
    assert "4 then, 3 now" in after["message"] and "reversed by a refund" in after["message"]
    assert "still picks the same winners" in after["message"]


def test_verify_reports_different_winners_once_the_winner_lost_every_entry(
    contest: Contest,
) -> None:
    anna, bea = contest.anna_and_bea()
    (annas,) = contest.entries_of(anna, day(2))
    contest.entries_of(bea, day(3), day(4))
    draw = contest.draw(winners=1, seed="seed-6")  # a seed that picks anna (1 entry of 3)
    assert [w["advocate_id"] for w in draw["winners"]] == [anna.id]

    contest.record(b.order_event(CANCELLED, annas, with_data=False), AFTER + timedelta(hours=2))
    after = contest_draws.verify_draw(
        contest.session, contest.shop.id, contest.program.id, draw["id"]
    )

    assert (after["entries_match"], after["winners_match"]) == (False, False)
    assert after["current"]["winners"] == [bea.id]
    assert after["message"] == (
        "The entries changed since the draw (3 then, 2 now; 1 of the contest's referrals "
        "changed status after it, for example reversed by a refund or cancellation), so "
        "re-running the draw with the recorded seed picks different winners."
    )


def test_verify_says_when_too_few_advocates_are_left_to_re_run_the_draw(
    contest: Contest,
) -> None:
    anna, bea = contest.anna_and_bea()
    contest.entries_of(anna, day(2))
    contest.entries_of(bea, day(3))
    draw = contest.draw(winners=2)
    contest.session.get(Advocate, anna.id).status = AdvocateStatus.BLOCKED
    contest.session.flush()

    after = contest_draws.verify_draw(
        contest.session, contest.shop.id, contest.program.id, draw["id"]
    )

    assert (after["verified"], after["current"]["winners"]) == (False, None)
    assert after["changed_referrals"] == []  # blocking changed the advocate, not a referral
    assert after["message"] == (
        "The entries changed since the draw (2 then, 1 now), and fewer advocates than the "
        "2 winners have entries now."
    )


def test_a_draw_of_another_contest_is_not_found(contest: Contest) -> None:
    anna = contest.advocate("anna@example.com")
    contest.entries_of(anna, day(2))
    draw = contest.draw()
    second = b.program(contest.session, contest.shop.id, {**CONTEST, "name": "Summer"})

    with pytest.raises(NotFound):
        contest_draws.get_draw(contest.session, contest.shop.id, second.id, draw["id"])
    with pytest.raises(NotFound):
        contest_draws.verify_draw(contest.session, contest.shop.id, second.id, draw["id"])
