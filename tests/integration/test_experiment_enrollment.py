"""A/B tests on a real database: enrollment assigns a group once (drawn from the injected
random source), the holdout is recorded without a code, and referrals pay the variant's offer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from referral_plugin.domain.codes import normalize_code
from referral_plugin.domain.decisions import CodeKind, Outcome
from referral_plugin.domain.events import OrderEventKind
from referral_plugin.domain.experiments import HOLDOUT, EnrollmentSource
from referral_plugin.domain.lifecycle import ReferralStatus
from referral_plugin.errors import Conflict
from referral_plugin.models import Advocate, Code, ExperimentAssignment
from referral_plugin.models import Referral as ReferralRow
from referral_plugin.services.advocates import enroll_advocate
from referral_plugin.services.orders import record_order_event
from referral_plugin.services.programs import update_program
from tests.integration import builders as b
from tests.integration.builders import NOW

STARTED = NOW - timedelta(days=1)
# 10% holdout, then a and b 1:1 over the rest: holdout [0, 0.1), a [0.1, 0.55), b [0.55, 1).
EXPERIMENT: dict[str, Any] = {
    "variants": [
        {"key": "a", "name": "Ten off"},
        {"key": "b", "name": "Twenty in credit",
         "advocate_reward": {"kind": "store_credit", "amount": "20.00"}},
    ],
    "holdout_percent": 10,
    "started_at": STARTED.isoformat(),
}  # fmt: skip
A, B, HELD_OUT = 0.3, 0.8, 0.05


def draws(*values: float):
    """A random source that yields `values` once each and fails if asked for more."""
    remaining = list(values)

    def next_value() -> float:
        assert remaining, "asked for a group twice"
        return remaining.pop(0)

    return next_value


def setup(session: Session, **changes: Any):
    shop = b.shop(session)
    program = b.program(session, shop.id, b.ONE_SIDED, experiment=EXPERIMENT, **changes)
    return shop, program


def join(session: Session, shop_id: int, program_id: int, email: str, value: float | None):
    return enroll_advocate(
        session, shop_id, program_id, email=email, first_name="Sam", now=NOW,
        source=EnrollmentSource.JOINED, random_value=None if value is None else draws(value),
    )  # fmt: skip


def assignments(session: Session, program_id: int) -> list[tuple[str, str, str]]:
    rows = session.execute(
        select(Advocate.email, ExperimentAssignment.variant, ExperimentAssignment.source)
        .join(Advocate, Advocate.id == ExperimentAssignment.advocate_id)
        .where(ExperimentAssignment.program_id == program_id)
        .order_by(Advocate.email)
    )
    return [(email, variant, source.value) for email, variant, source in rows]


def test_enrollment_assigns_each_advocate_once_from_the_random_source(session: Session) -> None:
    shop, program = setup(session)
    ana = join(session, shop.id, program.id, "ana@example.com", A)
    ben = join(session, shop.id, program.id, "ben@example.com", B)
    again = join(session, shop.id, program.id, "Ana@Example.com", None)  # draws nothing
    assert (ana.variant, ben.variant, again.variant) == ("a", "b", "a")
    assert again.id == ana.id and again.code == ana.code and not again.created
    assert assignments(session, program.id) == [
        ("ana@example.com", "a", "joined"),
        ("ben@example.com", "b", "joined"),
    ]
    assert session.get(Advocate, ben.id).variant == "b"


def test_advocates_enrolled_before_the_start_or_after_the_end_get_no_group(
    session: Session,
) -> None:
    shop, program = setup(session)
    update_program(
        session, shop.id, program.id,
        {"experiment": {**EXPERIMENT, "started_at": (NOW + timedelta(days=1)).isoformat()}},
        now=NOW,
    )  # fmt: skip
    early = join(session, shop.id, program.id, "early@example.com", None)
    ended = {**EXPERIMENT, "ended_at": (NOW - timedelta(hours=1)).isoformat()}
    update_program(session, shop.id, program.id, {"experiment": ended}, now=NOW)
    late = join(session, shop.id, program.id, "late@example.com", None)
    assert (early.variant, late.variant) == (None, None) and early.code and late.code
    assert assignments(session, program.id) == []


def test_the_holdout_is_recorded_without_a_code_until_the_experiment_is_removed(
    session: Session,
) -> None:
    shop, program = setup(session)
    held = join(session, shop.id, program.id, "hana@example.com", HELD_OUT)
    assert (held.variant, held.code, held.created) == (HOLDOUT, "", True)
    assert assignments(session, program.id) == [("hana@example.com", HOLDOUT, "joined")]
    codes = select(func.count()).select_from(Code).where(Code.advocate_id == held.id)
    assert session.scalar(codes) == 0
    still = join(session, shop.id, program.id, "hana@example.com", None)
    assert (still.code, still.variant) == ("", HOLDOUT)

    update_program(session, shop.id, program.id, {"experiment": None}, now=NOW)
    released = join(session, shop.id, program.id, "hana@example.com", None)
    assert released.code.startswith("SAM-") and released.id == held.id
    assert session.scalar(codes) == 1


def add_code(session: Session, shop_id: int, program_id: int, advocate_id: int, code: str) -> None:
    """A code the advocate holds anyway (e.g. handed out by the merchant before the test)."""
    session.add(
        Code(
            shop_id=shop_id, program_id=program_id, advocate_id=advocate_id,
            kind=CodeKind.ADVOCATE, code=code, normalized=normalize_code(code), created_at=NOW,
        )
    )  # fmt: skip
    session.flush()


def paid_order(session: Session, shop_id: int, order_id: str, code: str, email: str):
    event = b.order_event(OrderEventKind.PAID, order_id, codes=(code,), email=email)
    return record_order_event(session, shop_id, event, now=NOW, code_key=b.CODE_KEY)


def test_referrals_pay_the_advocates_variant_and_the_holdout_nothing(session: Session) -> None:
    shop, program = setup(session)
    ana = join(session, shop.id, program.id, "ana@example.com", A)
    ben = join(session, shop.id, program.id, "ben@example.com", B)
    hana = join(session, shop.id, program.id, "hana@example.com", HELD_OUT)
    add_code(session, shop.id, program.id, hana.id, "HANA-OLD-CODE")

    a_paid = paid_order(session, shop.id, "2001", ana.code, "f1@example.com")
    b_paid = paid_order(session, shop.id, "2002", ben.code, "f2@example.com")
    h_paid = paid_order(session, shop.id, "2003", "HANA-OLD-CODE", "f3@example.com")

    assert [(r.rule_key, r.value) for r in a_paid.rewards] == [("advocate", Decimal("10.00"))]
    assert [(r.rule_key, r.value) for r in b_paid.rewards] == [("advocate", Decimal("20.00"))]
    assert h_paid.outcome is Outcome.REJECTED and h_paid.rewards == ()
    referral = session.scalars(select(ReferralRow).where(ReferralRow.advocate_id == hana.id)).one()
    assert referral.status is ReferralStatus.REJECTED
    assert referral.reasons == [
        {
            "reason": "holdout",
            "detail": "holdout group: this advocate is in the program's control group",
            "rule_key": None,
        }
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"variants": [{"key": "a", "name": "Ten off"}]}, "experiment.variants"),
        ({"variants": [{"key": "a", "name": "Ten off"}, {"key": "c", "name": "New"}]},
         "experiment.variants"),
    ],
)  # fmt: skip
def test_a_variant_with_assigned_advocates_cannot_be_removed(
    session: Session, changes: dict[str, Any], field: str
) -> None:
    shop, program = setup(session)
    join(session, shop.id, program.id, "ben@example.com", B)
    with pytest.raises(Conflict, match="b") as raised:
        update_program(
            session, shop.id, program.id, {"experiment": {**EXPERIMENT, **changes}}, now=NOW
        )
    assert raised.value.field == field
    # Weights may change (for advocates enrolled from now on), and unused variants may go; a
    # change without `started_at` keeps the running test's start.
    variants = [{**EXPERIMENT["variants"][0], "weight": 3}, EXPERIMENT["variants"][1]]
    later = NOW + timedelta(hours=5)
    updated = update_program(
        session, shop.id, program.id, {"experiment": {"variants": variants}}, now=later
    )
    assert updated.experiment.variants[0].weight == 3
    assert updated.experiment.started_at == STARTED
