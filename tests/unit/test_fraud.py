"""Fraud checks: each check x each action, what does not fire, and the order checks run in."""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest

from referral_plugin.domain.decisions import Decision, Outcome, Reason
from referral_plugin.domain.events import FraudSignals
from referral_plugin.domain.fraud import FRAUD_CHECKS, fraud_findings, run_check
from referral_plugin.domain.programs import (
    DEFAULT_FRAUD_POLICY,
    Conditions,
    FraudAction,
    FraudCheck,
)
from referral_plugin.domain.rules import decide
from tests.unit.builders import NOW, a_program, a_snapshot, an_advocate, an_order

# For each check: (advocate overrides, snapshot overrides) that make it fire on the default order.
FIRING: dict[FraudCheck, tuple[dict[str, Any], dict[str, Any]]] = {
    FraudCheck.SAME_IP: ({"known_ips": frozenset({"203.0.113.7"})}, {}),
    FraudCheck.SAME_USER_AGENT_AND_IP: (
        {"known_devices": frozenset({("203.0.113.7", "Mozilla/5.0 (friend)")})},
        {},
    ),
    FraudCheck.SAME_SHIPPING_ADDRESS: (
        {"known_shipping_fingerprints": frozenset({"ship-friend"})},
        {},
    ),
    FraudCheck.SAME_PAYMENT: ({"known_payment_fingerprints": frozenset({"pay-friend"})}, {}),
    FraudCheck.DISPOSABLE_EMAIL: ({}, {"disposable_email_domains": frozenset({"example.com"})}),
    FraudCheck.VELOCITY: ({"referrals_last_24h": 10}, {}),
    FraudCheck.ADVOCATE_NOT_CUSTOMER: ({"has_ordered": False}, {}),
}
OUTCOMES = {
    FraudAction.ALLOW: Outcome.ACCEPTED,
    FraudAction.REVIEW: Outcome.REVIEW,
    FraudAction.REJECT: Outcome.REJECTED,
}


def decide_firing(check: FraudCheck, action: FraudAction, **order: Any) -> Decision:
    advocate, snapshot = FIRING[check]
    program = a_program(fraud_policy={check: action})
    return decide(
        an_order(**order),
        a_snapshot(program=program, advocate=an_advocate(**advocate), **snapshot),
        NOW,
    )


def test_the_table_covers_every_check() -> None:
    assert set(FIRING) == set(FraudCheck) == {check for check, _ in FRAUD_CHECKS}


@pytest.mark.parametrize(
    ("check", "action"),
    [pytest.param(c, a, id=f"{c}-{a}") for c, a in product(FraudCheck, FraudAction)],
)
def test_each_check_with_each_action(check: FraudCheck, action: FraudAction) -> None:
    decision = decide_firing(check, action)
    assert decision.outcome is OUTCOMES[action]
    if action is FraudAction.ALLOW:
        assert decision.fraud == ()
        assert len(decision.rewards) == 2
        return
    # SAME_IP also fires alongside the device check; only the configured one is not ALLOW.
    mine = [f for f in decision.fraud if f.check is check]
    assert [f.action for f in mine] == [action]
    if action is FraudAction.REJECT:
        assert decision.rewards == ()
        assert decision.rejections[-1].reason is Reason.FRAUD
        assert decision.rejections[-1].detail.startswith(check.value)
    else:
        assert len(decision.rewards) == 2
        assert decision.rejections == ()


@pytest.mark.parametrize(
    ("check", "order"),
    [
        pytest.param(
            FraudCheck.SAME_IP, {"signals": FraudSignals()}, id="same ip: the order's IP unknown"
        ),
        pytest.param(
            FraudCheck.SAME_USER_AGENT_AND_IP,
            {"signals": FraudSignals(browser_ip="203.0.113.7")},
            id="same device: user agent unknown",
        ),
        pytest.param(
            FraudCheck.SAME_USER_AGENT_AND_IP,
            {"signals": FraudSignals(browser_ip="198.51.100.1", user_agent="Mozilla/5.0 (friend)")},
            id="same device: same agent, other IP",
        ),
        pytest.param(
            FraudCheck.SAME_SHIPPING_ADDRESS,
            {"signals": FraudSignals(shipping_fingerprint="ship-other")},
            id="same shipping: another address",
        ),
        pytest.param(
            FraudCheck.SAME_PAYMENT,
            {"signals": FraudSignals()},
            id="same payment: fingerprint unknown",
        ),
        pytest.param(
            FraudCheck.DISPOSABLE_EMAIL,
            {"email": "friend@example.org"},
            id="disposable: an ordinary domain",
        ),
        pytest.param(FraudCheck.DISPOSABLE_EMAIL, {"email": None}, id="disposable: no email"),
    ],
)
def test_checks_that_do_not_fire(check: FraudCheck, order: dict[str, Any]) -> None:
    decision = decide_firing(check, FraudAction.REJECT, **order)
    assert decision.outcome is Outcome.ACCEPTED
    assert decision.fraud == ()


@pytest.mark.parametrize(
    ("in_24h", "fires"),
    [pytest.param(2, False, id="under the limit"), pytest.param(3, True, id="at the limit")],
)
def test_velocity_limit_comes_from_the_program(in_24h: int, fires: bool) -> None:
    program = a_program(conditions=Conditions(velocity_limit_per_day=3))
    advocate = an_advocate(referrals_last_24h=in_24h)
    findings = fraud_findings(an_order(), advocate, program, a_snapshot())
    assert [f.check for f in findings] == ([FraudCheck.VELOCITY] if fires else [])


def test_default_policy_applies_when_the_program_sets_none() -> None:
    program = a_program(fraud_policy={})
    advocate, _ = FIRING[FraudCheck.SAME_PAYMENT]
    finding = run_check(
        FraudCheck.SAME_PAYMENT, an_order(), an_advocate(**advocate), program, a_snapshot()
    )
    assert finding is not None
    assert finding.action is DEFAULT_FRAUD_POLICY[FraudCheck.SAME_PAYMENT] is FraudAction.REJECT


def test_all_findings_are_reported_in_check_order() -> None:
    advocate: dict[str, Any] = {}
    snapshot: dict[str, Any] = {}
    for advocate_part, snapshot_part in FIRING.values():
        advocate |= advocate_part
        snapshot |= snapshot_part
    program = a_program(fraud_policy=dict.fromkeys(FraudCheck, FraudAction.REVIEW))
    findings = fraud_findings(an_order(), an_advocate(**advocate), program, a_snapshot(**snapshot))
    assert [f.check for f in findings] == [check for check, _ in FRAUD_CHECKS]


def test_every_reject_finding_is_a_rejection_and_review_does_not_mask_it() -> None:
    policy = {
        FraudCheck.SAME_IP: FraudAction.REVIEW,
        FraudCheck.SAME_SHIPPING_ADDRESS: FraudAction.REJECT,
        FraudCheck.SAME_PAYMENT: FraudAction.REJECT,
    }
    advocate = an_advocate(
        known_ips=frozenset({"203.0.113.7"}),
        known_shipping_fingerprints=frozenset({"ship-friend"}),
        known_payment_fingerprints=frozenset({"pay-friend"}),
    )
    snapshot = a_snapshot(program=a_program(fraud_policy=policy), advocate=advocate)
    decision = decide(an_order(), snapshot, NOW)
    assert decision.outcome is Outcome.REJECTED
    assert [r.detail.split(":")[0] for r in decision.rejections] == [
        "same_shipping_address",
        "same_payment",
    ]
    assert len(decision.fraud) == 3


def test_details_do_not_leak_the_signals() -> None:
    advocate: dict[str, Any] = {}
    for advocate_part, _ in FIRING.values():
        advocate |= advocate_part
    program = a_program(fraud_policy=dict.fromkeys(FraudCheck, FraudAction.REVIEW))
    findings = fraud_findings(an_order(), an_advocate(**advocate), program, a_snapshot())
    text = " ".join(f.detail for f in findings)
    for secret in ("203.0.113.7", "Mozilla", "ship-friend", "pay-friend", "friend@"):
        assert secret not in text
