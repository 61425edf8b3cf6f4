"""What the merchant dashboard and the operations API list: referrals (with their order, status
reason and fraud findings), advocates (with referral counts and balances), rewards and ledgers.
The totals (liability, counts) are in `services.dashboard_totals`.

Every query is scoped by shop. Lists are newest first and paged by offset: the page asks for one
row more than it shows, so `has_more` costs no count query. Money stays Decimal next to its
currency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..domain.decisions import AttributionMethod, CodeKind
from ..domain.lifecycle import ReferralStatus, RewardStatus
from ..errors import NotFound
from ..models import (
    Advocate,
    Code,
    Conversion,
    LedgerEntry,
    LedgerKind,
    Program,
    Referral,
    Reward,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Page(Generic[T]):
    items: list[T]
    limit: int
    offset: int
    has_more: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class FraudNote:
    """One fraud check that fired on the referral's order (`check` names it)."""

    check: str
    action: str  # review / reject
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferralRow:
    id: int
    program_id: int
    program_name: str
    advocate_id: int
    advocate_email: str
    status: ReferralStatus
    status_reason: str | None
    reasons: tuple[str, ...]  # the rules' reason codes, when a rule refused it
    fraud: tuple[FraudNote, ...]
    method: AttributionMethod
    code: str
    order_id: str
    order_number: str | None
    total: Decimal
    currency: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AdvocateRow:
    id: int
    program_id: int
    program_name: str
    email: str
    name: str
    code: str | None  # the referral code they share
    status: str
    referrals: int  # every referral, whatever its status
    successful_referrals: int
    balance: Decimal
    points: int
    debt: Decimal
    currency: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RewardRow:
    id: int
    referral_id: int | None
    advocate_id: int | None
    advocate_email: str | None
    beneficiary: str
    kind: str
    status: RewardStatus
    value: Decimal | None
    points: int | None
    currency: str
    store_code: str | None
    hold_until: datetime | None
    reversal_reason: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerRow:
    id: int
    kind: LedgerKind
    amount: Decimal
    unit: str
    reward_id: int | None
    note: str | None
    created_at: datetime


def _paged(session: Session, query: Select[Any], limit: int, offset: int) -> tuple[list[Any], bool]:
    rows = list(session.execute(query.limit(limit + 1).offset(offset)).all())
    return rows[:limit], len(rows) > limit


# --- referrals ------------------------------------------------------------------------------


def list_referrals(
    session: Session,
    shop_id: int,
    *,
    status: ReferralStatus | None = None,
    program_id: int | None = None,
    advocate_id: int | None = None,
    ids: Sequence[int] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[ReferralRow]:
    """The shop's referrals, newest first, optionally of one status, program or advocate, or
    only those of `ids`."""
    query = (
        select(Referral, Conversion, Advocate.email, Program.name)
        .join(Conversion, Conversion.id == Referral.conversion_id)
        .join(Advocate, Advocate.id == Referral.advocate_id)
        .join(Program, Program.id == Referral.program_id)
        .where(Referral.shop_id == shop_id)
    )
    if status is not None:
        query = query.where(Referral.status == status)
    if program_id is not None:
        query = query.where(Referral.program_id == program_id)
    if advocate_id is not None:
        query = query.where(Referral.advocate_id == advocate_id)
    if ids is not None:
        query = query.where(Referral.id.in_(list(ids)))
    query = query.order_by(Referral.created_at.desc(), Referral.id.desc())
    rows, more = _paged(session, query, limit, offset)
    return Page(items=[_referral_row(*row) for row in rows], limit=limit, offset=offset,
                has_more=more)  # fmt: skip


def referral_statuses(session: Session, shop_id: int, ids: Sequence[int]) -> dict[int, str]:
    """The current status of each of `ids` that exists in the shop."""
    rows = session.execute(
        select(Referral.id, Referral.status).where(
            Referral.shop_id == shop_id, Referral.id.in_(list(ids))
        )
    ).all()
    return {int(row[0]): str(row[1]) for row in rows}


def _referral_row(
    referral: Referral, conversion: Conversion, email: str, program_name: str
) -> ReferralRow:
    return ReferralRow(
        id=referral.id, program_id=referral.program_id, program_name=program_name,
        advocate_id=referral.advocate_id, advocate_email=email, status=referral.status,
        status_reason=referral.status_reason,
        reasons=tuple(str(r.get("reason")) for r in referral.reasons if isinstance(r, dict)),
        fraud=tuple(
            FraudNote(check=str(f.get("check")), action=str(f.get("action")),
                      detail=str(f.get("detail") or ""))
            for f in conversion.fraud if isinstance(f, dict)
        ),
        method=referral.method, code=referral.code, order_id=conversion.order_id,
        order_number=conversion.order_number, total=conversion.total,
        currency=conversion.currency, created_at=referral.created_at,
        updated_at=referral.updated_at,
    )  # fmt: skip


def referral_to_dict(row: ReferralRow) -> dict[str, Any]:
    """JSON-ready view of a referral: money as strings, times ISO 8601 UTC."""
    return {
        "id": row.id, "program_id": row.program_id, "advocate_id": row.advocate_id,
        "advocate_email": row.advocate_email, "status": row.status.value,
        "status_reason": row.status_reason, "reasons": list(row.reasons),
        "fraud": [{"check": f.check, "action": f.action, "detail": f.detail} for f in row.fraud],
        "method": row.method.value, "code": row.code, "order_id": row.order_id,
        "order_number": row.order_number, "total": str(row.total), "currency": row.currency,
        "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
    }  # fmt: skip


# --- advocates ------------------------------------------------------------------------------


def list_advocates(
    session: Session,
    shop_id: int,
    *,
    program_id: int | None = None,
    email_contains: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[AdvocateRow]:
    """The shop's advocates, newest first, with how many referrals each brought."""
    query = _advocates_query(shop_id)
    if program_id is not None:
        query = query.where(Advocate.program_id == program_id)
    if email_contains:
        query = query.where(Advocate.email.contains(email_contains.lower(), autoescape=True))
    query = query.order_by(Advocate.created_at.desc(), Advocate.id.desc())
    rows, more = _paged(session, query, limit, offset)
    return Page(items=[_advocate_row(*row) for row in rows], limit=limit, offset=offset,
                has_more=more)  # fmt: skip


def get_advocate_row(session: Session, shop_id: int, advocate_id: int) -> AdvocateRow:
    """One advocate with their referral count and code; raises NotFound."""
    query = _advocates_query(shop_id).where(Advocate.id == advocate_id)
    row = session.execute(query).one_or_none()
    if row is None:
        raise NotFound("advocate", advocate_id)
    return _advocate_row(*row)


def _advocates_query(shop_id: int) -> Select[Any]:
    referrals = (
        select(func.count(Referral.id))
        .where(Referral.shop_id == shop_id, Referral.advocate_id == Advocate.id)
        .scalar_subquery()
    )
    code = (
        select(func.min(Code.code))
        .where(Code.shop_id == shop_id, Code.advocate_id == Advocate.id,
               Code.kind == CodeKind.ADVOCATE)
        .scalar_subquery()
    )  # fmt: skip
    return (
        select(Advocate, Program.name, referrals, code)
        .join(Program, Program.id == Advocate.program_id)
        .where(Advocate.shop_id == shop_id)
    )


def _advocate_row(
    advocate: Advocate, program_name: str, referrals: int, code: str | None
) -> AdvocateRow:
    name = " ".join(part for part in (advocate.first_name, advocate.last_name) if part)
    return AdvocateRow(
        id=advocate.id, program_id=advocate.program_id, program_name=program_name,
        email=advocate.email, name=name, code=code, status=str(advocate.status),
        referrals=int(referrals),
        successful_referrals=advocate.successful_referrals, balance=advocate.balance,
        points=advocate.points, debt=advocate.debt, currency=advocate.currency,
        created_at=advocate.created_at,
    )  # fmt: skip


def advocate_ledger(
    session: Session, shop_id: int, advocate_id: int, *, limit: int = 50
) -> list[LedgerRow]:
    """The advocate's latest ledger entries, newest first."""
    entries = session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.shop_id == shop_id, LedgerEntry.advocate_id == advocate_id)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .limit(limit)
    )
    return [
        LedgerRow(id=e.id, kind=e.kind, amount=e.amount, unit=e.unit, reward_id=e.reward_id,
                  note=e.note, created_at=e.created_at)
        for e in entries
    ]  # fmt: skip


# --- rewards --------------------------------------------------------------------------------


def list_rewards(
    session: Session,
    shop_id: int,
    *,
    status: RewardStatus | None = None,
    advocate_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[RewardRow]:
    """The shop's rewards, newest first, optionally of one status or advocate."""
    query = (
        select(Reward, Advocate.email)
        .outerjoin(Advocate, Advocate.id == Reward.advocate_id)
        .where(Reward.shop_id == shop_id)
    )
    if status is not None:
        query = query.where(Reward.status == status)
    if advocate_id is not None:
        query = query.where(Reward.advocate_id == advocate_id)
    query = query.order_by(Reward.created_at.desc(), Reward.id.desc())
    rows, more = _paged(session, query, limit, offset)
    items = [
        RewardRow(
            id=r.id, referral_id=r.referral_id, advocate_id=r.advocate_id, advocate_email=email,
            beneficiary=str(r.beneficiary), kind=str(r.kind), status=r.status, value=r.value,
            points=r.points, currency=r.currency, store_code=r.store_code,
            hold_until=r.hold_until, reversal_reason=r.reversal_reason, created_at=r.created_at,
        )
        for r, email in rows
    ]  # fmt: skip
    return Page(items=items, limit=limit, offset=offset, has_more=more)
