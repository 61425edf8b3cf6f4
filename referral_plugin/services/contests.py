"""Contests (issue 7): a contest program's entries and its live leaderboard.

An entry is one referral of the contest program that
- is CONVERTED: paid and past any review (a referral in review counts once the merchant
  approves it; a REVERSED one, refunded or cancelled, and a REJECTED one no longer count),
- belongs to an advocate who is not blocked (blocked by the merchant, or erased on request),
- and whose order was paid inside the contest window: `conversions.paid_at` (the order's first
  payment) in [conditions.starts_at, conditions.ends_at). The payment time counts, not the
  placement: an order placed before the end but paid after it misses the contest, so the
  entries are final at the end, except for later reversals and review decisions.

The leaderboard ranks advocates by entries; a tie goes to whoever reached that count first
(the earlier payment time of their latest entry), then to the lower advocate id. It is computed
on every request by one aggregate query, which reads the program's converted referrals through
`ix_referrals_shop_id_program_id_status` and joins each to its conversion and advocate by key.
The admin sees names and emails; the public board (`public_standings`) only masked names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from ..domain.contest_draw import Entry
from ..domain.lifecycle import ReferralStatus
from ..domain.programs import Program, ProgramKind
from ..errors import NotFound
from ..models import Advocate, AdvocateStatus, Conversion, Referral
from ..models import Program as ProgramRow
from .snapshots import load_program

MASK = "•••"
ENTRY_STATUS = ReferralStatus.CONVERTED  # with the window and advocate rules below


class ContestState(StrEnum):
    UPCOMING = "upcoming"
    RUNNING = "running"
    ENDED = "ended"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContestWindow:
    starts_at: datetime | None  # open start when None
    ends_at: datetime | None  # never ends (and cannot be drawn) when None

    def state(self, now: datetime) -> ContestState:
        if self.starts_at is not None and now < self.starts_at:
            return ContestState.UPCOMING
        if self.ends_at is not None and now >= self.ends_at:
            return ContestState.ENDED
        return ContestState.RUNNING


@dataclass(frozen=True, slots=True, kw_only=True)
class Standing:
    rank: int
    advocate_id: int
    entries: int
    reached_at: datetime  # when the advocate reached this many entries
    first_name: str | None
    last_name: str | None
    email: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Leaderboard:
    window: ContestWindow
    state: ContestState
    entries: int  # all entries of the contest
    advocates: int  # advocates with at least one entry
    top: tuple[Standing, ...]
    me: Standing | None  # the asked advocate's standing (None: not asked, or no entry)


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicStanding:
    rank: int
    name: str  # "Anna K." or "a•••@example.com", never a full email
    entries: int
    is_me: bool


def contest_program(session: Session, shop_id: int, program_id: int) -> Program:
    """The shop's contest program; raises NotFound for another kind, shop or id."""
    row = session.scalars(
        select(ProgramRow).where(ProgramRow.shop_id == shop_id, ProgramRow.id == program_id)
    ).one_or_none()
    if row is None or row.kind is not ProgramKind.CONTEST:
        raise NotFound("contest", program_id)
    return load_program(row)


def contest_window(program: Program) -> ContestWindow:
    return ContestWindow(starts_at=program.conditions.starts_at, ends_at=program.conditions.ends_at)


def contest_referrals(
    shop_id: int, program_id: int, window: ContestWindow, status: ReferralStatus, *columns: Any
) -> Select[Any]:
    """SELECT `columns` over referrals ⋈ conversions ⋈ advocates: the contest's referrals in
    `status` (ENTRY_STATUS: its entries), paid inside the window, of advocates not blocked."""
    conditions = [
        Referral.shop_id == shop_id,
        Referral.program_id == program_id,
        Referral.status == status,
        Conversion.shop_id == shop_id,
        Conversion.paid_at.is_not(None),
        Advocate.shop_id == shop_id,
        Advocate.status != AdvocateStatus.BLOCKED,
    ]
    if window.starts_at is not None:
        conditions.append(Conversion.paid_at >= window.starts_at)
    if window.ends_at is not None:
        conditions.append(Conversion.paid_at < window.ends_at)
    return (
        select(*columns)
        .select_from(Referral)
        .join(Conversion, Conversion.id == Referral.conversion_id)
        .join(Advocate, Advocate.id == Referral.advocate_id)
        .where(*conditions)
    )


def contest_entries(
    session: Session, shop_id: int, program_id: int, window: ContestWindow
) -> tuple[Entry, ...]:
    """Every entry of the contest inside `window`, in no particular order."""
    query = contest_referrals(
        shop_id, program_id, window, ENTRY_STATUS,
        Referral.id, Referral.advocate_id, Conversion.paid_at,
    )  # fmt: skip
    rows = session.execute(query).all()
    return tuple(Entry(referral_id=r, advocate_id=a, paid_at=p) for r, a, p in rows)


def leaderboard(
    session: Session,
    shop_id: int,
    program: Program,
    *,
    now: datetime,
    top: int,
    advocate_id: int | None = None,
) -> Leaderboard:
    """The `top` advocates by entries (and `advocate_id`'s own standing), with the totals,
    read by one query (`leaderboard_query`)."""
    window = contest_window(program)
    query = leaderboard_query(shop_id, program.id, window, top=top, advocate_id=advocate_id)
    rows = session.execute(query).all()
    standings = [_standing(row) for row in rows]
    return Leaderboard(
        window=window,
        state=window.state(now),
        entries=int(rows[0].total_entries) if rows else 0,
        advocates=int(rows[0].advocates) if rows else 0,
        top=tuple(s for s in standings if s.rank <= top),
        me=next((s for s in standings if s.advocate_id == advocate_id), None),
    )


def leaderboard_query(
    shop_id: int, program_id: int, window: ContestWindow, *, top: int, advocate_id: int | None
) -> Select[Any]:
    """One aggregate over the contest's entries, grouped by advocate, ranked and totalled by
    window functions after the grouping; keeps the top rows and `advocate_id`'s row."""
    count = func.count(Referral.id)
    reached = func.max(Conversion.paid_at)
    ranked = (
        contest_referrals(
            shop_id,
            program_id,
            window,
            ENTRY_STATUS,
            Advocate.id.label("advocate_id"),
            Advocate.first_name,
            Advocate.last_name,
            Advocate.email,
            count.label("entries"),
            reached.label("reached_at"),
            func.row_number()
            .over(order_by=(count.desc(), reached.asc(), Advocate.id.asc()))
            .label("rank"),
            func.count().over().label("advocates"),
            func.sum(count).over().label("total_entries"),
        )
        .group_by(Advocate.id, Advocate.first_name, Advocate.last_name, Advocate.email)
        .subquery()
    )
    shown = ranked.c.rank <= top
    if advocate_id is not None:
        shown = or_(shown, ranked.c.advocate_id == advocate_id)
    return select(ranked).where(shown).order_by(ranked.c.rank)


def _standing(row: Any) -> Standing:
    return Standing(
        rank=row.rank,
        advocate_id=row.advocate_id,
        entries=row.entries,
        reached_at=row.reached_at,
        first_name=row.first_name,
        last_name=row.last_name,
        email=row.email,
    )


def public_standings(board: Leaderboard) -> tuple[PublicStanding, ...]:
    """The board as the public page shows it: masked names, and the viewer's own row marked
    (after the top rows when it is not among them)."""
    rows = board.top
    if board.me is not None and board.me not in board.top:
        rows = (*rows, board.me)
    mine = None if board.me is None else board.me.advocate_id
    return tuple(
        PublicStanding(
            rank=s.rank,
            name=public_name(s.first_name, s.last_name, s.email),
            entries=s.entries,
            is_me=s.advocate_id == mine,
        )
        for s in rows
    )


def public_name(first_name: str | None, last_name: str | None, email: str) -> str:
    """ "Anna K." (first name and the last name's initial), "Anna", else the masked email."""
    first, last = _name_part(first_name), _name_part(last_name)
    if first is None:
        return masked_email(email)
    return f"{first} {last[0].upper()}." if last else first


def masked_email(email: str) -> str:
    """ "a•••@example.com": the first character and the domain, never the whole address."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}{MASK}@{domain}" if local and domain else MASK


def _name_part(value: str | None) -> str | None:
    text = (value or "").strip()
    return text if text and "@" not in text else None  # an email typed as a name stays hidden


def contest_summary(
    session: Session, shop_id: int, program_id: int, *, now: datetime, top: int
) -> dict[str, Any]:
    """The admin's view of a contest: window, state, totals and the top `top` advocates with
    names and emails. Raises NotFound (not a contest of this shop)."""
    program = contest_program(session, shop_id, program_id)
    board = leaderboard(session, shop_id, program, now=now, top=top)
    in_review = session.scalar(
        contest_referrals(
            shop_id, program_id, board.window, ReferralStatus.REVIEW, func.count(Referral.id)
        )
    )
    return {
        "program_id": program.id,
        "name": program.name,
        "state": board.state.value,
        "window": window_json(board.window),
        "totals": {"entries": board.entries, "advocates": board.advocates, "in_review": in_review},
        "leaderboard": [
            {
                "rank": s.rank,
                "advocate_id": s.advocate_id,
                "first_name": s.first_name,
                "last_name": s.last_name,
                "email": s.email,
                "entries": s.entries,
                "reached_at": iso_time(s.reached_at),
            }
            for s in board.top
        ],
    }


def window_json(window: ContestWindow) -> dict[str, str | None]:
    return {"starts_at": iso_time(window.starts_at), "ends_at": iso_time(window.ends_at)}


def iso_time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")
