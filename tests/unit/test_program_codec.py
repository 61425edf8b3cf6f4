"""program_codec: round trips, and every invalid input names its field."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from referral_plugin.domain.program_codec import parse_program, program_to_dict, variant_rewards
from referral_plugin.domain.programs import (
    ClaimMode,
    FraudAction,
    FraudCheck,
    ProgramKind,
    RewardKind,
    ShopperEmail,
)

FIXED_10 = {"kind": "fixed_discount", "amount": "10.00"}
PERCENT_15 = {"kind": "percent_discount", "percent": "15"}
BASE: dict[str, Any] = {
    "name": "Refer a friend",
    "kind": "two_sided",
    "advocate_reward": FIXED_10,
    "friend_reward": PERCENT_15,
}


def parse(data: Any):
    return parse_program(data, shop_id=1, program_id=7, currency="USD")


def with_(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def test_a_full_program_round_trips_through_its_dict() -> None:
    program, errors = parse(
        with_(
            conditions={
                "starts_at": "2026-01-01T00:00:00Z",
                "ends_at": "2026-02-01T00:00:00+01:00",
                "minimum_subtotal": 25,
                "allowed_countries": ["US", "CA"],
                "product_ids": ["p1"],
            },
            caps=[{"scope": "advocate", "metric": "count", "limit": 5, "period": "month"}],
            every_n={"n": 5, "reward": {"kind": "cash", "amount": 12.5}},
            fraud_policy={"same_ip": "reject"},
            hold_days=0,
        )
    )
    assert errors == [] and program is not None
    assert program.advocate_reward.amount == Decimal("10.00")
    assert program.every_n.reward.amount == Decimal("12.5")
    assert program.conditions.ends_at == datetime(2026, 1, 31, 23, 0, tzinfo=UTC)
    assert program.fraud_action(FraudCheck.SAME_IP) is FraudAction.REJECT
    again, errors = parse(program_to_dict(program))
    assert errors == [] and again == program


def test_claim_mode_emails_and_auto_enroll_round_trip() -> None:
    program, errors = parse(
        with_(
            claim_mode="per_friend",
            emails={"enabled": ["invite", "reward_issued"], "reminder_days_before": 3},
            auto_enroll=True,
        )
    )
    assert errors == [] and program is not None
    assert program.claim_mode is ClaimMode.PER_FRIEND and program.auto_enroll is True
    assert program.emails.sends(ShopperEmail.INVITE)
    assert not program.emails.sends(ShopperEmail.SHARE_NUDGE)
    assert (program.emails.reminder_days_before, program.emails.nudge_after_days) == (3, 7)
    again, errors = parse(program_to_dict(program))
    assert errors == [] and again == program


def test_shopper_settings_default_to_shared_codes_every_email_and_no_auto_enroll() -> None:
    program, _ = parse(BASE)
    assert program.claim_mode is ClaimMode.SHARED_CODE and program.auto_enroll is False
    assert all(program.emails.sends(kind) for kind in ShopperEmail)
    assert program_to_dict(program)["emails"]["enabled"] == [kind.value for kind in ShopperEmail]


def test_defaults_fill_what_is_not_given() -> None:
    program, _ = parse(
        {"name": "Points", "kind": "points", "advocate_reward": {"kind": "points", "points": 100}}
    )
    assert program.kind is ProgramKind.POINTS and program.hold_days == 30
    assert program.advocate_reward.kind is RewardKind.POINTS
    assert program.conditions.first_order_only is True


STARTED = "2026-03-01T00:00:00Z"
VARIANT_A = {"key": "a", "name": "Ten off"}
VARIANT_B = {"key": "b", "name": "Fifteen off", "advocate_reward": FIXED_10}


def experiment(*variants: Any, **fields: Any) -> dict[str, Any]:
    return {"variants": list(variants or (VARIANT_A, VARIANT_B)), "started_at": STARTED, **fields}


def test_an_experiment_round_trips_through_the_program_dict() -> None:
    program, errors = parse(
        with_(
            experiment=experiment(
                {**VARIANT_A, "weight": 3},
                {**VARIANT_B, "friend_reward": {"kind": "percent_discount", "percent": "20"}},
                holdout_percent=10,
                ended_at="2026-04-01T00:00:00Z",
            )
        )
    )
    assert errors == [] and program is not None and program.experiment is not None
    a, b = program.experiment.variants
    assert (a.key, a.weight, a.advocate_reward, a.friend_reward) == ("a", 3, None, None)
    assert b.friend_reward.percent == Decimal("20") and b.weight == 1
    assert program.experiment.holdout_percent == 10
    assert program.experiment.started_at == datetime(2026, 3, 1, tzinfo=UTC)
    again, errors = parse(program_to_dict(program))
    assert errors == [] and again == program
    assert program_to_dict(parse(BASE)[0])["experiment"] is None


def test_a_holdout_test_may_have_one_variant_and_a_contest_may_run_one() -> None:
    contest = {"name": "Contest", "kind": "contest"}
    program, errors = parse({**contest, "experiment": experiment(VARIANT_A, holdout_percent=20)})
    assert errors == [] and program.experiment.variants[0].key == "a"


def variant_b(**changes: Any) -> dict[str, Any]:
    return with_(experiment=experiment(VARIANT_A, {**VARIANT_B, **changes}))


ONE_SIDED = {k: v for k, v in BASE.items() if k != "friend_reward"} | {"kind": "one_sided"}
EXPERIMENT_CASES = [
    ("experiment not an object", with_(experiment=[]), "experiment"),
    ("experiment unknown field", with_(experiment=experiment(colour=1)), "experiment.colour"),
    (
        "experiment without variants",
        with_(experiment={"started_at": STARTED}),
        "experiment.variants",
    ),
    ("experiment with one variant, no holdout", with_(experiment=experiment(VARIANT_A)),
     "experiment.variants"),
    ("experiment without start", with_(experiment={"variants": [VARIANT_A, VARIANT_B]}),
     "experiment.started_at"),
    ("experiment naive start", with_(experiment=experiment(started_at="2026-03-01T00:00:00")),
     "experiment.started_at"),
    ("experiment ends before it starts",
     with_(experiment=experiment(ended_at="2026-02-01T00:00:00Z")), "experiment.ended_at"),
    ("holdout over half", with_(experiment=experiment(holdout_percent=51)),
     "experiment.holdout_percent"),
    ("holdout fractional", with_(experiment=experiment(holdout_percent=12.5)),
     "experiment.holdout_percent"),
    ("variant weight zero", variant_b(weight=0), "experiment.variants.1.weight"),
    ("variant weight a string", variant_b(weight="2"), "experiment.variants.1.weight"),
    ("variant key upper case", variant_b(key="B"), "experiment.variants.1.key"),
    ("variant key holdout", variant_b(key="holdout"), "experiment.variants.1.key"),
    ("variant key twice", variant_b(key="a"), "experiment.variants.1.key"),
    ("variant without name", variant_b(name=None), "experiment.variants.1.name"),
    ("variant unknown field", variant_b(milestones=[]), "experiment.variants.1.milestones"),
    ("variant reward invalid", variant_b(advocate_reward={"kind": "cash", "amount": "-1"}),
     "experiment.variants.1.advocate_reward.amount"),
    ("one_sided variant gives the friend a reward",
     {**ONE_SIDED, "experiment": experiment(
         VARIANT_A, {**VARIANT_B, "friend_reward": PERCENT_15})},
     "experiment.variants.1.friend_reward"),
    ("points variant with a money reward",
     {"name": "P", "kind": "points", "advocate_reward": {"kind": "points", "points": 10},
      "experiment": experiment()},
     "experiment.variants.1.advocate_reward.kind"),
    ("contest variant with a reward",
     {"name": "C", "kind": "contest", "experiment": experiment()},
     "experiment.variants.1.advocate_reward"),
]  # fmt: skip

# One valid program per kind, and a reward each side of a variant could replace it with.
PROGRAM_OF_KIND: dict[ProgramKind, dict[str, Any]] = {
    ProgramKind.ONE_SIDED: ONE_SIDED,
    ProgramKind.TWO_SIDED: BASE,
    ProgramKind.TIERED: {"name": "T", "kind": "tiered",
                         "milestones": [{"count": 3, "reward": FIXED_10}]},
    ProgramKind.CONTEST: {"name": "C", "kind": "contest"},
    ProgramKind.CHARITY: {"name": "Ch", "kind": "charity",
                          "advocate_reward": {"kind": "charity", "charity": "Red Cross",
                                              "amount": "1"}},
    ProgramKind.POINTS: {"name": "P", "kind": "points",
                         "advocate_reward": {"kind": "points", "points": 10}},
}  # fmt: skip
REPLACEMENT = {
    ProgramKind.CHARITY: {"kind": "charity", "charity": "Red Cross", "amount": "2"},
    ProgramKind.POINTS: {"kind": "points", "points": 20},
}


@pytest.mark.parametrize(
    ("kind", "side"),
    [(kind, side) for kind in ProgramKind for side in ("advocate_reward", "friend_reward")],
)
def test_a_variant_may_replace_exactly_the_rewards_variant_rewards_names(
    kind: ProgramKind, side: str
) -> None:
    reward = REPLACEMENT.get(kind, FIXED_10) if side == "advocate_reward" else PERCENT_15
    variant = {**VARIANT_B, "advocate_reward": None, side: reward}
    data = {**PROGRAM_OF_KIND[kind], "experiment": experiment(VARIANT_A, variant)}

    program, errors = parse(data)

    if side in variant_rewards(kind):
        assert errors == [] and program is not None
    else:
        assert [field for field, _ in errors] == [f"experiment.variants.1.{side}"]


CASES = [
    ("not an object", [], "body"),
    ("unknown top-level field", with_(colour="red"), "colour"),
    ("name missing", {k: v for k, v in BASE.items() if k != "name"}, "name"),
    ("kind unknown", with_(kind="pyramid"), "kind"),
    ("one_sided without advocate reward", {"name": "x", "kind": "one_sided"}, "advocate_reward"),
    ("one_sided with friend reward", with_(kind="one_sided"), "friend_reward"),
    ("two_sided without friend reward", with_(friend_reward=None), "friend_reward"),
    ("tiered without milestones", with_(kind="tiered", friend_reward=None), "milestones"),
    (
        "milestone counts not increasing",
        with_(
            kind="tiered",
            milestones=[{"count": 3, "reward": FIXED_10}, {"count": 3, "reward": FIXED_10}],
        ),
        "milestones.1.count",
    ),
    (
        "milestone count zero",
        with_(milestones=[{"count": 0, "reward": FIXED_10}]),
        "milestones.0.count",
    ),
    ("milestone without reward", with_(milestones=[{"count": 2}]), "milestones.0.reward"),
    ("every_n below 2", with_(every_n={"n": 1, "reward": FIXED_10}), "every_n.n"),
    (
        "charity without charity reward",
        with_(kind="charity", friend_reward=None),
        "advocate_reward.kind",
    ),
    (
        "charity reward without a charity name",
        with_(kind="charity", advocate_reward={"kind": "charity", "amount": "1"}),
        "advocate_reward.charity",
    ),
    ("points without points reward", with_(kind="points"), "advocate_reward.kind"),
    (
        "points reward without points",
        with_(kind="points", advocate_reward={"kind": "points"}),
        "advocate_reward.points",
    ),
    (
        "negative amount",
        with_(advocate_reward={"kind": "cash", "amount": "-5"}),
        "advocate_reward.amount",
    ),
    (
        "amount not a number",
        with_(advocate_reward={"kind": "cash", "amount": "ten"}),
        "advocate_reward.amount",
    ),
    (
        "amount with three decimals",
        with_(advocate_reward={"kind": "cash", "amount": "1.005"}),
        "advocate_reward.amount",
    ),
    (
        "amount as a boolean",
        with_(advocate_reward={"kind": "cash", "amount": True}),
        "advocate_reward.amount",
    ),
    (
        "fixed kind without amount",
        with_(advocate_reward={"kind": "store_credit"}),
        "advocate_reward.amount",
    ),
    (
        "percent over 100",
        with_(friend_reward={"kind": "percent_discount", "percent": "101"}),
        "friend_reward.percent",
    ),
    (
        "percent zero",
        with_(friend_reward={"kind": "percent_discount", "percent": 0}),
        "friend_reward.percent",
    ),
    (
        "percent basis without percent",
        with_(advocate_reward={"kind": "cash", "basis": "percent_of_order"}),
        "advocate_reward.percent",
    ),
    (
        "unknown reward field",
        with_(friend_reward={**PERCENT_15, "colour": 1}),
        "friend_reward.colour",
    ),
    (
        "free product without product",
        with_(friend_reward={"kind": "free_product"}),
        "friend_reward.product_id",
    ),
    ("hold_days too long", with_(hold_days=366), "hold_days"),
    ("hold_days negative", with_(hold_days=-1), "hold_days"),
    ("hold_days fractional", with_(hold_days=1.5), "hold_days"),
    (
        "country not two letters",
        with_(conditions={"allowed_countries": ["USA"]}),
        "conditions.allowed_countries",
    ),
    (
        "country lower case",
        with_(conditions={"allowed_countries": ["us"]}),
        "conditions.allowed_countries",
    ),
    (
        "naive start date",
        with_(conditions={"starts_at": "2026-01-01T00:00:00"}),
        "conditions.starts_at",
    ),
    ("not a date", with_(conditions={"ends_at": "soon"}), "conditions.ends_at"),
    (
        "ends before it starts",
        with_(conditions={"starts_at": "2026-02-01T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"}),
        "conditions.ends_at",
    ),
    ("unknown condition", with_(conditions={"colour": "red"}), "conditions.colour"),
    (
        "cap with unknown scope",
        with_(caps=[{"scope": "planet", "metric": "count", "limit": 1}]),
        "caps.0.scope",
    ),
    (
        "count cap with a fraction",
        with_(caps=[{"scope": "program", "metric": "count", "limit": "1.5"}]),
        "caps.0.limit",
    ),
    ("cap without limit", with_(caps=[{"scope": "program", "metric": "amount"}]), "caps.0.limit"),
    (
        "cap with unknown period",
        with_(caps=[{"scope": "program", "metric": "count", "limit": 1, "period": "decade"}]),
        "caps.0.period",
    ),
    ("unknown fraud check", with_(fraud_policy={"telepathy": "reject"}), "fraud_policy.telepathy"),
    ("unknown fraud action", with_(fraud_policy={"same_ip": "shrug"}), "fraud_policy.same_ip"),
    (
        "partial refund policy unknown",
        with_(partial_refund_policy="keep_all"),
        "partial_refund_policy",
    ),
    ("read-only id changed", with_(id=8), "id"),
    ("currency is the shop's", with_(currency="EUR"), "currency"),
    ("active not a boolean", with_(active="yes"), "active"),
    ("claim mode unknown", with_(claim_mode="lottery"), "claim_mode"),
    (
        "per-friend claims without a friend reward",
        {
            **{k: v for k, v in BASE.items() if k != "friend_reward"},
            "kind": "one_sided",
            "claim_mode": "per_friend",
        },
        "claim_mode",
    ),
    ("unknown email", with_(emails={"enabled": ["spam"]}), "emails.enabled.0"),
    ("emails not a list", with_(emails={"enabled": "invite"}), "emails.enabled"),
    (
        "reminder too early",
        with_(emails={"reminder_days_before": 0}),
        "emails.reminder_days_before",
    ),
    ("nudge too late", with_(emails={"nudge_after_days": 91}), "emails.nudge_after_days"),
    ("unknown email setting", with_(emails={"digest": True}), "emails.digest"),
    ("auto enroll not a boolean", with_(auto_enroll="yes"), "auto_enroll"),
    *EXPERIMENT_CASES,
]


@pytest.mark.parametrize(("data", "field"), [pytest.param(d, f, id=label) for label, d, f in CASES])
def test_invalid_input_names_its_field(data: Any, field: str) -> None:
    program, errors = parse(data)
    assert program is None
    assert field in [name for name, _ in errors], errors
    assert all(message for _, message in errors)
