"""The database keeps the promises: unique keys reject duplicates, times stay aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from referral_plugin.domain.decisions import Beneficiary, CodeKind, Outcome
from referral_plugin.domain.events import Platform
from referral_plugin.domain.lifecycle import RewardStatus
from referral_plugin.domain.programs import RewardKind
from referral_plugin.models import Code, Conversion, RevokeState, Reward
from referral_plugin.services.inbox import store_delivery
from tests.integration import builders as b
from tests.integration.builders import NOW


def insert_fails(session: Session, row: object) -> bool:
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return True
    return False


def code(shop_id: int, program_id: int, display: str) -> Code:
    return Code(
        shop_id=shop_id,
        program_id=program_id,
        kind=CodeKind.ADVOCATE,
        code=display,
        normalized=display.replace("-", "").upper(),
        created_at=NOW,
    )


def conversion(shop_id: int, order_id: str = "9001") -> Conversion:
    return Conversion(
        shop_id=shop_id,
        order_id=order_id,
        currency="USD",
        subtotal=Decimal(10),
        total=Decimal(10),
        refunded_total=Decimal(0),
        paid=False,
        cancelled=False,
        is_test=False,
        outcome=Outcome.NOT_REFERRAL,
        reasons=[],
        fraud=[],
        signals={},
        decided_at=NOW,
        updated_at=NOW,
    )


def reward(shop_id: int, program_id: int, conversion_id: int) -> Reward:
    return Reward(
        shop_id=shop_id,
        program_id=program_id,
        conversion_id=conversion_id,
        beneficiary=Beneficiary.FRIEND,
        rule_key="friend",
        kind=RewardKind.PERCENT_DISCOUNT,
        status=RewardStatus.PENDING,
        currency="USD",
        debt_offset=Decimal(0),
        spec={},
        revoke_state=RevokeState.NONE,
        created_at=NOW,
        updated_at=NOW,
    )


def test_codes_are_unique_per_shop_case_insensitively(session: Session) -> None:
    shop = b.shop(session)
    program = b.program(session, shop.id, b.ONE_SIDED)
    assert not insert_fails(session, code(shop.id, program.id, "anna-7q2k"))
    assert insert_fails(session, code(shop.id, program.id, "ANNA-7Q2K"))
    other = b.shop(session, "other.myshopify.com")
    other_program = b.program(session, other.id, b.ONE_SIDED)
    assert not insert_fails(session, code(other.id, other_program.id, "ANNA7Q2K"))


def test_one_conversion_per_order(session: Session) -> None:
    shop = b.shop(session)
    assert not insert_fails(session, conversion(shop.id))
    assert insert_fails(session, conversion(shop.id))
    assert not insert_fails(session, conversion(shop.id, "9002"))


def test_one_reward_per_conversion_beneficiary_and_rule(session: Session) -> None:
    shop = b.shop(session)
    program = b.program(session, shop.id, b.ONE_SIDED)
    row = conversion(shop.id)
    session.add(row)
    session.flush()
    assert not insert_fails(session, reward(shop.id, program.id, row.id))
    assert insert_fails(session, reward(shop.id, program.id, row.id))


def test_inbox_stores_a_delivery_once(session: Session) -> None:
    shop = b.shop(session)
    stored = [
        store_delivery(
            session,
            platform=Platform.SHOPIFY,
            shop_id=shop.id,
            topic="orders/paid",
            dedup_key="evt-1",
            webhook_id="wh-1",
            headers={"x": "1"},
            body=b"{}",
            now=NOW,
        )
        for _ in range(2)
    ]
    assert stored[0][1] is True and stored[1] == (stored[0][0], False)


def test_datetimes_come_back_aware_utc_and_naive_ones_are_refused(session: Session) -> None:
    shop = b.shop(session)
    row = conversion(shop.id)
    row.paid_at = datetime(2026, 3, 2, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    session.add(row)
    session.flush()
    session.expire_all()
    paid_at = session.scalars(select(Conversion.paid_at).where(Conversion.id == row.id)).one()
    assert paid_at == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert paid_at.utcoffset() == timedelta(0)
    naive = conversion(shop.id, "9003")
    naive.decided_at = datetime(2026, 3, 2, 12, 0)
    with pytest.raises(StatementError, match="naive datetime"), session.begin_nested():
        session.add(naive)
