"""experiment_results on a hand-built data set: every figure, rate and test statistic equals the
number worked out by hand in the comments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from referral_plugin.domain.decisions import CodeKind
from referral_plugin.domain.events import OrderEventKind
from referral_plugin.errors import NotFound, ValidationError
from referral_plugin.models import Click, Code
from referral_plugin.services.experiment_figures import GroupFigures
from referral_plugin.services.experiments import ADVOCATE_CONVERSION, _compare, experiment_results
from referral_plugin.services.orders import record_order_event
from referral_plugin.services.programs import update_program
from tests.integration import builders as b
from tests.integration.builders import NOW
from tests.integration.test_experiment_enrollment import EXPERIMENT, HELD_OUT, A, B, join

PAID, PLACED = OrderEventKind.PAID, OrderEventKind.PLACED
UNTIL = NOW + timedelta(days=1)


def order(session: Session, shop_id: int, order_id: str, email: str, **kwargs: Any) -> None:
    event = b.order_event(kwargs.pop("kind", PAID), order_id, email=email, **kwargs)
    record_order_event(session, shop_id, event, now=NOW, code_key=b.CODE_KEY)


def clicks(session: Session, shop_id: int, advocate_id: int, count: int) -> None:
    code_id = session.scalars(
        select(Code.id).where(Code.advocate_id == advocate_id, Code.kind == CodeKind.ADVOCATE)
    ).one()
    for _ in range(count):
        session.add(Click(shop_id=shop_id, code_id=code_id, created_at=NOW))
    session.flush()


@pytest.fixture
def experiment(session: Session) -> tuple[int, int]:
    """Group a (10.00 off per referral): ana1 shares (2 clicks) and brings two paying friends
    (100.00 and 50.00); ana2 shares once; ana3 only orders herself. Group b (20.00 credit):
    ben1 brings one paying friend (80.00); ben2's friend has not paid yet. Holdout: hana1
    orders herself after joining; hana2 ordered only before joining, and a test order after."""
    shop = b.shop(session)
    program = b.program(session, shop.id, b.ONE_SIDED, experiment=EXPERIMENT)
    people = {
        name: join(session, shop.id, program.id, f"{name}@example.com", value)
        for name, value in [("ana1", A), ("ana2", A), ("ana3", A), ("ben1", B), ("ben2", B),
                            ("hana1", HELD_OUT), ("hana2", HELD_OUT)]
    }  # fmt: skip
    clicks(session, shop.id, people["ana1"].id, 2)
    clicks(session, shop.id, people["ana2"].id, 1)
    order(session, shop.id, "1", "f1@example.com", codes=(people["ana1"].code,))
    order(session, shop.id, "2", "f2@example.com", codes=(people["ana1"].code,), subtotal="50.00")
    order(session, shop.id, "3", "ana3@example.com", at=NOW + timedelta(hours=2))
    order(session, shop.id, "4", "f4@example.com", codes=(people["ben1"].code,), subtotal="80.00")
    order(session, shop.id, "5", "f5@example.com", codes=(people["ben2"].code,), kind=PLACED)
    order(session, shop.id, "6", "hana1@example.com", at=NOW + timedelta(hours=3))
    order(session, shop.id, "7", "hana2@example.com", at=NOW - timedelta(hours=1))
    return shop.id, program.id


def groups_of(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {group["key"]: group for group in result["groups"]}


def test_the_figures_of_each_group(session: Session, experiment: tuple[int, int]) -> None:
    shop_id, program_id = experiment
    result = experiment_results(session, shop_id, program_id, now=UNTIL)
    assert (result["since"], result["until"]) == (EXPERIMENT["started_at"], UNTIL.isoformat())
    assert result["control"] == "a" and result["currency"] == "USD"
    a, b_, holdout = (groups_of(result)[key] for key in ("a", "b", "holdout"))
    figures = ("advocates", "sharing_advocates", "clicks", "referrals", "converted_referrals",
               "converting_advocates", "referred_revenue", "reward_cost", "ordering_advocates",
               "own_orders")  # fmt: skip
    assert [a[f] for f in figures] == [3, 2, 3, 2, 2, 1, "150.00", "20.00", 1, 1]
    assert [b_[f] for f in figures] == [2, 0, 0, 2, 1, 1, "80.00", "20.00", 0, 0]
    assert [holdout[f] for f in figures] == [2, 0, 0, 0, 0, 0, "0.00", "0.00", 1, 1]
    # a: 1 of 3 advocates converted; 2 converted referrals / 3 advocates; 2 / 3 clicks.
    assert (a["advocate_conversion_rate"], a["converted_referrals_per_advocate"]) == (
        "0.3333",
        "0.6667",
    )
    assert (a["converted_referrals_per_click"], a["own_order_rate"]) == ("0.6667", "0.3333")
    assert (b_["advocate_conversion_rate"], b_["converted_referrals_per_click"]) == ("0.5000", None)
    assert holdout["own_order_rate"] == "0.5000"
    assert a["vs_control"] is None and holdout["vs_control"] is holdout["vs_holdout"] is None


def test_the_comparisons_match_the_hand_computed_statistics(
    session: Session, experiment: tuple[int, int]
) -> None:
    shop_id, program_id = experiment
    groups = groups_of(experiment_results(session, shop_id, program_id, now=UNTIL))
    # b vs a on converting advocates, 1/2 vs 1/3: pooled 2/5 = 0.4; SE = sqrt(0.4 * 0.6 *
    # (1/2 + 1/3)) = sqrt(0.2) = 0.447214; z = (0.5 - 0.333333) / 0.447214 = 0.3727;
    # p = 2 * (1 - Phi(0.3727)) = 0.709388. Lift 0.5 / (1/3) - 1 = 0.5; Katz SE = sqrt(1 -
    # 1/2 + 1 - 1/3) = 1.080123; ln 1.5 = 0.405465, 1.959964 * 1.080123 = 2.117003;
    # exp(-1.711538) - 1 = -0.8194, exp(2.522468) - 1 = 11.4593.
    versus = groups["b"]["vs_control"]
    assert (versus["metric"], versus["against"]) == ("advocate_conversion_rate", "a")
    assert (versus["z"], versus["p_value"]) == ("0.3727", "0.709388")
    assert (versus["lift"], versus["lift_95_low"], versus["lift_95_high"]) == (
        "0.5000",
        "-0.8194",
        "11.4593",
    )
    assert versus["conclusive"] is False and versus["significant_at_95"] is False
    assert versus["note"].startswith("Too few results to conclude")
    # b vs the holdout on own orders, 0/2 vs 1/2: pooled 1/4; SE = sqrt(0.25 * 0.75 * 1) =
    # 0.433013; z = -0.5 / 0.433013 = -1.1547; p = 0.248213; lift -1, no interval (no success).
    own = groups["b"]["vs_holdout"]
    assert (own["metric"], own["against"], own["z"], own["p_value"]) == (
        "own_order_rate",
        "holdout",
        "-1.1547",
        "0.248213",
    )
    assert (own["lift"], own["lift_95_low"], own["lift_95_high"]) == ("-1.0000", None, None)
    # a vs the holdout, 1/3 vs 1/2: the mirror of b vs a above; lift (1/3) / 0.5 - 1.
    assert (groups["a"]["vs_holdout"]["z"], groups["a"]["vs_holdout"]["lift"]) == (
        "-0.3727",
        "-0.3333",
    )


def test_the_window_counts_only_advocates_assigned_inside_it(
    session: Session, experiment: tuple[int, int]
) -> None:
    shop_id, program_id = experiment
    later = experiment_results(
        session, shop_id, program_id, since=NOW + timedelta(seconds=1), until=UNTIL, now=UNTIL
    )
    assert [g["advocates"] for g in later["groups"]] == [0, 0, 0]
    with pytest.raises(ValidationError) as raised:
        experiment_results(session, shop_id, program_id, since=UNTIL, until=NOW, now=UNTIL)
    assert raised.value.errors[0].field == "until"


def test_results_stay_after_the_experiment_is_removed_and_other_shops_see_none(
    session: Session, experiment: tuple[int, int]
) -> None:
    shop_id, program_id = experiment
    update_program(session, shop_id, program_id, {"experiment": None}, now=NOW)
    result = experiment_results(session, shop_id, program_id, now=UNTIL)
    assert result["experiment"] is None
    assert [(g["key"], g["advocates"], g["name"]) for g in result["groups"]] == [
        ("a", 3, None),
        ("b", 2, None),
        ("holdout", 2, "Holdout"),
    ]
    other = b.shop(session, "other-shop.myshopify.com")
    with pytest.raises(NotFound):
        experiment_results(session, other.id, program_id, now=UNTIL)
    plain = b.program(session, shop_id, b.ONE_SIDED)
    with pytest.raises(NotFound):
        experiment_results(session, shop_id, plain.id, now=UNTIL)


@pytest.mark.parametrize(
    ("b", "significant", "note"),
    [
        (150, True, "Significant at 95% (p = 0.0496; advocates with a converted referral: "
                    "b: 150 of 1000, a: 120 of 1000)."),
        (130, False, "No significant difference at 95% (p = 0.4990; advocates with a converted "
                     "referral: b: 130 of 1000, a: 120 of 1000)."),
    ],
)  # fmt: skip
def test_a_comparison_with_enough_outcomes_concludes_in_words(
    b: int, significant: bool, note: str
) -> None:
    """150/1000 vs 120/1000: z = 1.96305, p = 0.04964 (see tests/unit/test_experiments.py).
    130/1000 vs 120/1000: pooled 0.125; SE = sqrt(0.125 * 0.875 * 0.002) = 0.0147902;
    z = 0.01 / 0.0147902 = 0.67612; p = 2 * (1 - Phi(0.67612)) = 2 * (1 - 0.75052) = 0.49896."""
    found = _compare(
        ADVOCATE_CONVERSION,
        GroupFigures(advocates=1000, converting_advocates=b),
        GroupFigures(advocates=1000, converting_advocates=120),
        "b",
        "a",
    )
    assert (found["conclusive"], found["significant_at_95"], found["note"]) == (
        True,
        significant,
        note,
    )
