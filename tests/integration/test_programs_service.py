"""Program service: stored as the domain Program, updated partially, scoped to the shop."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from referral_plugin.domain.programs import ProgramKind
from referral_plugin.errors import NotFound, ValidationError
from referral_plugin.services.programs import (
    create_program,
    get_program,
    list_programs,
    update_program,
)
from tests.integration import builders as b
from tests.integration.builders import NOW


def test_create_then_read_back_the_same_program(session: Session) -> None:
    shop = b.shop(session)
    created = create_program(session, shop.id, b.TWO_SIDED, now=NOW)
    assert created.id > 0 and created.currency == "USD" and created.kind is ProgramKind.TWO_SIDED
    assert get_program(session, shop.id, created.id) == created
    assert list_programs(session, shop.id) == [created]


def test_update_merges_the_given_keys_and_validates_the_whole(session: Session) -> None:
    shop = b.shop(session)
    program = create_program(session, shop.id, b.ONE_SIDED, now=NOW)
    updated = update_program(
        session, shop.id, program.id, {"hold_days": 7, "active": False}, now=NOW
    )
    assert (updated.hold_days, updated.active, updated.name) == (7, False, "Give 10")
    assert updated.advocate_reward.amount == Decimal("10.00")
    with pytest.raises(ValidationError) as caught:
        update_program(
            session,
            shop.id,
            program.id,
            {"friend_reward": {"kind": "percent_discount", "percent": "10"}},
            now=NOW,
        )
    assert [e.field for e in caught.value.errors] == ["friend_reward"]
    assert get_program(session, shop.id, program.id) == updated


def test_invalid_program_names_every_field(session: Session) -> None:
    shop = b.shop(session)
    with pytest.raises(ValidationError) as caught:
        create_program(
            session, shop.id, {"kind": "one_sided", "hold_days": -1, "bogus": 1}, now=NOW
        )
    assert sorted(e.field for e in caught.value.errors) == ["bogus", "hold_days", "name"]


def test_programs_are_scoped_to_their_shop(session: Session) -> None:
    shop = b.shop(session)
    program = create_program(session, shop.id, b.ONE_SIDED, now=NOW)
    other = b.shop(session, "other.myshopify.com")
    with pytest.raises(NotFound):
        get_program(session, other.id, program.id)
    with pytest.raises(NotFound):
        update_program(session, other.id, program.id, {"hold_days": 1}, now=NOW)
    assert list_programs(session, other.id) == []
