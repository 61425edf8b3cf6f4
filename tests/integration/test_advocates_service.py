"""Advocate enrollment is idempotent per identity email and every code is unique per shop."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from referral_plugin.errors import NotFound, ValidationError
from referral_plugin.services.advocates import (
    enroll_advocate,
    get_advocate,
    list_advocates,
    update_advocate,
)
from tests.integration import builders as b
from tests.integration.builders import NOW


class ScriptedChooser:
    """Picks characters from a fixed script, so a test can force a code collision."""

    def __init__(self, script: str) -> None:
        self.chars = iter(script)

    def choice(self, seq: str) -> str:
        return next(self.chars)


def setup(session: Session):
    shop = b.shop(session)
    return shop, b.program(session, shop.id, b.ONE_SIDED)


def test_enrolling_twice_returns_the_same_advocate_and_code(session: Session) -> None:
    shop, program = setup(session)
    first = b.advocate(session, shop.id, program.id, "Anna.Smith+shop@gmail.com")
    again = b.advocate(session, shop.id, program.id, "annasmith@googlemail.com")
    assert first.created and not again.created
    assert (again.id, again.code) == (first.id, first.code)
    assert first.code.startswith("ANNA-") and first.email == "anna.smith+shop@gmail.com"


def test_a_colliding_code_is_generated_again(session: Session) -> None:
    shop, program = setup(session)
    first = enroll_advocate(
        session,
        shop.id,
        program.id,
        email="a@example.com",
        first_name="Sam",
        now=NOW,
        chooser=ScriptedChooser("2" * 8),
    )
    second = enroll_advocate(
        session,
        shop.id,
        program.id,
        email="b@example.com",
        first_name="Sam",
        now=NOW,
        chooser=ScriptedChooser("2" * 8 + "3" * 8),
    )
    assert first.code == "SAM-2222-2222"
    assert second.code == "SAM-3333-3333"


@pytest.mark.parametrize("email", ["", "not-an-email", "a@b", "@example.com"])
def test_invalid_email_is_a_validation_error_on_email(session: Session, email: str) -> None:
    shop, program = setup(session)
    with pytest.raises(ValidationError) as caught:
        enroll_advocate(session, shop.id, program.id, email=email, now=NOW)
    assert [e.field for e in caught.value.errors] == ["email"]


def test_another_shops_program_is_not_found(session: Session) -> None:
    _, program = setup(session)
    other = b.shop(session, "other.myshopify.com")
    with pytest.raises(NotFound):
        enroll_advocate(session, other.id, program.id, email="a@example.com", now=NOW)


def test_read_list_and_update(session: Session) -> None:
    shop, program = setup(session)
    anna = b.advocate(session, shop.id, program.id)
    b.advocate(session, shop.id, program.id, "bob@example.com", first_name="Bob")
    view = get_advocate(session, shop.id, anna.id)
    assert view["code"] == anna.code and view["balance"] == "0.00" and view["status"] == "active"
    listed = list_advocates(session, shop.id, program_id=program.id, limit=1, offset=1)
    assert [a["email"] for a in listed] == ["bob@example.com"]
    updated = update_advocate(session, shop.id, anna.id, {"status": "blocked", "last_name": "S"})
    assert (updated["status"], updated["last_name"]) == ("blocked", "S")
    with pytest.raises(ValidationError) as caught:
        update_advocate(session, shop.id, anna.id, {"status": "gone", "email": "x"})
    assert sorted(e.field for e in caught.value.errors) == ["email", "status"]
