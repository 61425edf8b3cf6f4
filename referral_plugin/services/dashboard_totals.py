"""The dashboard's totals for one shop: the reward liability per currency and status, referral
counts per status, the number of advocates, and the programs to filter by."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.lifecycle import ReferralStatus, RewardStatus
from ..domain.money import minor_unit
from ..models import Advocate, Program, Referral, Reward


@dataclass(frozen=True, slots=True, kw_only=True)
class LiabilityLine:
    """The rewards of one status in one currency: how many, their value and points."""

    currency: str
    status: RewardStatus
    count: int
    value: Decimal
    points: int


# Shown for every currency the shop has rewards in, even when none is in that status.
SETTLING = (RewardStatus.ISSUED, RewardStatus.REDEEMED, RewardStatus.EXPIRED, RewardStatus.REVERSED)


def reward_liability(session: Session, shop_id: int) -> list[LiabilityLine]:
    """Per currency and status: how many rewards, their value and points, in lifecycle order;
    issued, redeemed, expired and reversed always (zero when none), the others when any.

    Issued rewards are the open liability (codes or credit the store honours until they are
    redeemed or expire); held and approved ones are what is still to come."""
    rows = session.execute(
        select(
            Reward.currency, Reward.status, func.count(Reward.id),
            func.coalesce(func.sum(Reward.value), 0), func.coalesce(func.sum(Reward.points), 0),
        )
        .where(Reward.shop_id == shop_id)
        .group_by(Reward.currency, Reward.status)
    ).all()  # fmt: skip
    found = {
        (currency, RewardStatus(status)): LiabilityLine(
            currency=currency, status=RewardStatus(status), count=int(count),
            value=Decimal(str(value)).quantize(minor_unit(currency)), points=int(points),
        )
        for currency, status, count, value, points in rows
    }  # fmt: skip
    for currency in {currency for currency, _ in found}:
        for status in SETTLING:
            found.setdefault(
                (currency, status),
                LiabilityLine(currency=currency, status=status, count=0,
                              value=Decimal(0).quantize(minor_unit(currency)), points=0),
            )  # fmt: skip
    order = list(RewardStatus)
    return sorted(found.values(), key=lambda line: (line.currency, order.index(line.status)))


def count_referrals_by_status(session: Session, shop_id: int) -> dict[ReferralStatus, int]:
    """How many referrals the shop has in each status (statuses with none are left out)."""
    rows = session.execute(
        select(Referral.status, func.count(Referral.id))
        .where(Referral.shop_id == shop_id)
        .group_by(Referral.status)
    ).all()
    return {ReferralStatus(status): int(count) for status, count in rows}


def count_advocates(session: Session, shop_id: int) -> int:
    return int(
        session.scalar(select(func.count(Advocate.id)).where(Advocate.shop_id == shop_id)) or 0
    )


def program_choices(session: Session, shop_id: int) -> list[tuple[int, str]]:
    """(id, name) of the shop's programs, for filters."""
    rows = session.execute(
        select(Program.id, Program.name).where(Program.shop_id == shop_id).order_by(Program.id)
    ).all()
    return [(int(row[0]), str(row[1])) for row in rows]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgramCounts:
    advocates: int = 0
    referrals: int = 0


def counts_by_program(session: Session, shop_id: int) -> dict[int, ProgramCounts]:
    """Advocates and referrals of each of the shop's programs that has any, by program id."""
    advocates = _count_by_program(
        session, Advocate.program_id, Advocate.id, Advocate.shop_id, shop_id
    )
    referrals = _count_by_program(
        session, Referral.program_id, Referral.id, Referral.shop_id, shop_id
    )
    return {
        program_id: ProgramCounts(
            advocates=advocates.get(program_id, 0), referrals=referrals.get(program_id, 0)
        )
        for program_id in advocates.keys() | referrals.keys()
    }


def _count_by_program(
    session: Session, program_id: Any, row_id: Any, row_shop_id: Any, shop_id: int
) -> dict[int, int]:
    rows = session.execute(
        select(program_id, func.count(row_id)).where(row_shop_id == shop_id).group_by(program_id)
    )
    return {int(program): int(count) for program, count in rows}
