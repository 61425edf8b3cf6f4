"""Program service: stored as the domain Program, updated partially, scoped to the shop."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from referral_plugin.domain.programs import ProgramKind
from referral_plugin.errors import NotFound, ValidationError
from referral_plugin.models import AuditEntry
from referral_plugin.models import Program as ProgramRow
from referral_plugin.services.programs import (
    create_program,
    draft_program,
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


def test_changes_with_an_actor_are_in_the_audit_log(session: Session) -> None:
    shop = b.shop(session)
    program = create_program(session, shop.id, b.ONE_SIDED, now=NOW, actor="merchant:a@b.c")
    update_program(session, shop.id, program.id, {"active": False}, now=NOW, actor="admin-api")
    update_program(session, shop.id, program.id, {"hold_days": 3}, now=NOW)  # no actor: none

    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.shop_id == shop.id).order_by(AuditEntry.id)
    ).all()
    assert [(e.action, e.actor, e.subject_id, e.details) for e in entries] == [
        ("program.created", "merchant:a@b.c", str(program.id),
         {"parts": ["advocate_reward", "hold_days", "kind", "name"], "active": True}),
        ("program.updated", "admin-api", str(program.id), {"parts": ["active"], "active": False}),
    ]  # fmt: skip


def test_a_draft_is_validated_like_a_save_and_writes_nothing(session: Session) -> None:
    shop = b.shop(session)
    program = create_program(session, shop.id, b.ONE_SIDED, now=NOW)
    before = session.scalar(select(func.count()).select_from(ProgramRow))

    draft = draft_program(session, shop.id, {"hold_days": 9}, program_id=program.id)
    new = draft_program(session, shop.id, b.TWO_SIDED)

    assert (draft.id, draft.hold_days, draft.name) == (program.id, 9, "Give 10")  # merged
    assert (new.id, new.currency, new.kind) == (0, "USD", ProgramKind.TWO_SIDED)
    with pytest.raises(ValidationError) as caught:
        draft_program(session, shop.id, {"friend_reward": {"kind": "points", "points": 5}},
                      program_id=program.id)  # fmt: skip
    assert [e.field for e in caught.value.errors] == ["friend_reward"]
    with pytest.raises(NotFound):
        draft_program(session, b.shop(session, "other.myshopify.com").id, {}, program_id=program.id)
    assert session.scalar(select(func.count()).select_from(ProgramRow)) == before
    assert get_program(session, shop.id, program.id) == program
