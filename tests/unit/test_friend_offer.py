"""The friend offer a program's advocates' codes carry in the store (`friend_code_offer`):
which friend rewards a store discount expresses, and what the offer says."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from referral_plugin.domain.codes import friend_offer_code
from referral_plugin.domain.programs import (
    Conditions,
    Experiment,
    ProgramKind,
    RewardKind,
    RewardSpec,
    ValueBasis,
    Variant,
)
from referral_plugin.domain.store import friend_code_offer
from tests.unit.builders import NOW, PROGRAM_ID, a_program, a_spec, at

KEY = b"k" * 32
PERCENT = RewardSpec(kind=RewardKind.PERCENT_DISCOUNT, percent=Decimal("15"))


@pytest.mark.parametrize(
    "friend_reward",
    [
        pytest.param(PERCENT, id="percent off"),
        pytest.param(a_spec(RewardKind.FIXED_DISCOUNT, amount=Decimal("10.00")), id="amount off"),
        pytest.param(a_spec(RewardKind.FREE_SHIPPING), id="free shipping"),
        pytest.param(a_spec(RewardKind.FREE_PRODUCT, product_id="632910392"), id="free product"),
        pytest.param(a_spec(RewardKind.PERCENT_DISCOUNT, percent=Decimal(100)), id="100 percent"),
    ],
)
def test_a_discount_friend_reward_makes_an_offer(friend_reward: RewardSpec) -> None:
    offer = friend_code_offer(a_program(friend_reward=friend_reward), now=NOW, key=KEY)

    assert offer is not None
    assert offer.reward == friend_reward
    assert offer.once_per_customer is True


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"friend_reward": None}, id="no friend reward"),
        pytest.param({"kind": ProgramKind.ONE_SIDED}, id="one-sided program"),
        pytest.param({"kind": ProgramKind.CONTEST}, id="contest"),
        pytest.param({"friend_reward": a_spec(RewardKind.POINTS, points=50)}, id="points"),
        pytest.param(
            {"friend_reward": a_spec(RewardKind.STORE_CREDIT, amount=Decimal(5))}, id="credit"
        ),
        pytest.param({"friend_reward": a_spec(RewardKind.CASH, amount=Decimal(5))}, id="cash"),
        pytest.param(
            {"friend_reward": a_spec(RewardKind.VIP, tag="vip")}, id="a tag is no discount"
        ),
        pytest.param(
            {
                "friend_reward": a_spec(
                    RewardKind.FIXED_DISCOUNT,
                    basis=ValueBasis.PERCENT_OF_ORDER,
                    amount=None,
                    percent=Decimal(5),
                )
            },
            id="amount valued on the order",
        ),
        pytest.param({"friend_reward": a_spec(RewardKind.PERCENT_DISCOUNT)}, id="percent missing"),
        pytest.param(
            {"friend_reward": a_spec(RewardKind.PERCENT_DISCOUNT, percent=Decimal(120))},
            id="over 100 percent",
        ),
        pytest.param(
            {"friend_reward": a_spec(RewardKind.FIXED_DISCOUNT, amount=Decimal(0))},
            id="zero amount",
        ),
        pytest.param(
            {"friend_reward": a_spec(RewardKind.FREE_PRODUCT, product_id=" ")}, id="no product"
        ),
    ],
)
def test_no_offer_when_no_store_discount_expresses_the_friend_reward(
    changes: dict[str, Any],
) -> None:
    assert friend_code_offer(a_program(**changes), now=NOW, key=KEY) is None


def test_the_offer_names_the_program_and_follows_its_conditions() -> None:
    conditions = Conditions(
        starts_at=at("2024-06-01"), ends_at=at("2024-09-01"), minimum_subtotal=Decimal("25.00")
    )
    program = a_program(name="Give 15%, get $10", friend_reward=PERCENT, conditions=conditions)

    offer = friend_code_offer(program, now=NOW, key=KEY)

    assert offer is not None
    assert offer.program_id == PROGRAM_ID
    assert offer.title == "Referral: Give 15%, get $10"
    assert (offer.starts_at, offer.ends_at) == (at("2024-06-01"), at("2024-09-01"))
    assert offer.minimum_subtotal == Decimal("25.00")
    assert offer.currency == program.currency


@pytest.mark.parametrize(
    ("condition", "reward_minimum", "expected"),
    [
        pytest.param(None, None, None, id="none"),
        pytest.param(Decimal(25), None, Decimal(25), id="the program's"),
        pytest.param(None, Decimal(40), Decimal(40), id="the reward's"),
        pytest.param(Decimal(25), Decimal(40), Decimal(40), id="the larger of both"),
        pytest.param(Decimal(60), Decimal(40), Decimal(60), id="the larger, the program's"),
    ],
)
def test_the_minimum_subtotal_is_the_stricter_one(
    condition: Decimal | None, reward_minimum: Decimal | None, expected: Decimal | None
) -> None:
    spec = RewardSpec(
        kind=RewardKind.PERCENT_DISCOUNT, percent=Decimal(15), minimum_subtotal=reward_minimum
    )
    program = a_program(friend_reward=spec, conditions=Conditions(minimum_subtotal=condition))

    offer = friend_code_offer(program, now=NOW, key=KEY)

    assert offer is not None and offer.minimum_subtotal == expected


def test_without_a_start_date_the_offer_starts_now_and_never_ends() -> None:
    offer = friend_code_offer(a_program(friend_reward=PERCENT), now=NOW, key=KEY)

    assert offer is not None
    assert (offer.starts_at, offer.ends_at) == (NOW, None)


def test_the_offers_own_code_is_keyed_per_program() -> None:
    offer = friend_code_offer(a_program(friend_reward=PERCENT), now=NOW, key=KEY)
    other = friend_code_offer(a_program(id=2, friend_reward=PERCENT), now=NOW, key=KEY)

    assert offer is not None and other is not None
    assert offer.offer_code == friend_offer_code(PROGRAM_ID, KEY)
    assert offer.offer_code != other.offer_code
    assert offer.offer_code != friend_offer_code(PROGRAM_ID, b"another key")
    assert offer.offer_code.startswith("RF-")


def test_a_variant_with_its_own_friend_reward_has_its_own_offer() -> None:
    twenty = RewardSpec(kind=RewardKind.PERCENT_DISCOUNT, percent=Decimal("20"))
    experiment = Experiment(
        variants=(
            Variant(key="a", name="A"),
            Variant(key="b", name="B", friend_reward=twenty),
            Variant(key="c", name="C", friend_reward=a_spec(RewardKind.POINTS, points=5)),
        ),
        holdout_percent=10,
        started_at=at("2024-05-01"),
    )
    program = a_program(friend_reward=PERCENT, experiment=experiment)
    base = friend_code_offer(program, now=NOW, key=KEY)
    offers = {key: friend_code_offer(program, now=NOW, key=KEY, variant=key)
              for key in ("a", "b", "c", "holdout", "gone")}  # fmt: skip

    assert base is not None and base.variant is None
    assert offers["a"] == offers["holdout"] == offers["gone"] == base  # the program's reward
    bigger = offers["b"]
    assert bigger is not None and (bigger.variant, bigger.reward) == ("b", twenty)
    assert bigger.offer_code == friend_offer_code(PROGRAM_ID, KEY, "b") != base.offer_code
    assert bigger.title.endswith(" (variant b)")
    assert offers["c"] is None  # points are no store discount: c's friends attribute by link
