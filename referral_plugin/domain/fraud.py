"""Fraud checks as rules: each compares the order's signals with the advocate's history.

A check returns a `FraudFinding` with the action the program sets for it
(`Program.fraud_action`); findings whose action is ALLOW are dropped. Details never carry the
signal values themselves (IPs, emails), only what matched.
"""

from __future__ import annotations

from collections.abc import Callable

from .decisions import AdvocateView, FraudFinding, Reason, Rejection, Snapshot
from .emails import normalize_email
from .events import OrderEvent
from .programs import FraudAction, FraudCheck, Program

# A check answers with a detail when it fires, None when it does not.
Check = Callable[[OrderEvent, AdvocateView, Program, Snapshot], str | None]


def _same_ip(event: OrderEvent, advocate: AdvocateView, _p: Program, _s: Snapshot) -> str | None:
    ip = event.signals.browser_ip
    if ip and ip in advocate.known_ips:
        return "the order's browser IP was used by the advocate"
    return None


def _same_device(
    event: OrderEvent, advocate: AdvocateView, _p: Program, _s: Snapshot
) -> str | None:
    ip, agent = event.signals.browser_ip, event.signals.user_agent
    if ip and agent and (ip, agent) in advocate.known_devices:
        return "the order's IP and user agent pair was used by the advocate"
    return None


def _same_shipping(
    event: OrderEvent, advocate: AdvocateView, _p: Program, _s: Snapshot
) -> str | None:
    fingerprint = event.signals.shipping_fingerprint
    if fingerprint and fingerprint in advocate.known_shipping_fingerprints:
        return "the order ships to an address the advocate used"
    return None


def _same_payment(
    event: OrderEvent, advocate: AdvocateView, _p: Program, _s: Snapshot
) -> str | None:
    fingerprint = event.signals.payment_fingerprint
    if fingerprint and fingerprint in advocate.known_payment_fingerprints:
        return "the order is paid with a payment method the advocate used"
    return None


def _disposable_email(
    event: OrderEvent, _a: AdvocateView, _p: Program, snapshot: Snapshot
) -> str | None:
    email = normalize_email(event.email)
    domain = email.rsplit("@", 1)[1] if email else None
    if domain and domain in {d.lower() for d in snapshot.disposable_email_domains}:
        return f"the order email uses the disposable domain {domain}"
    return None


def _velocity(
    event: OrderEvent, advocate: AdvocateView, program: Program, _s: Snapshot
) -> str | None:
    limit = program.conditions.velocity_limit_per_day
    if advocate.referrals_last_24h >= limit:
        return f"{advocate.referrals_last_24h} referrals in 24 hours (limit {limit})"
    return None


def _advocate_not_customer(
    _e: OrderEvent, advocate: AdvocateView, _p: Program, _s: Snapshot
) -> str | None:
    if not advocate.has_ordered:
        return "the advocate has never ordered"
    return None


# The order in which checks run, and so the order of findings in a decision.
FRAUD_CHECKS: tuple[tuple[FraudCheck, Check], ...] = (
    (FraudCheck.SAME_IP, _same_ip),
    (FraudCheck.SAME_USER_AGENT_AND_IP, _same_device),
    (FraudCheck.SAME_SHIPPING_ADDRESS, _same_shipping),
    (FraudCheck.SAME_PAYMENT, _same_payment),
    (FraudCheck.DISPOSABLE_EMAIL, _disposable_email),
    (FraudCheck.VELOCITY, _velocity),
    (FraudCheck.ADVOCATE_NOT_CUSTOMER, _advocate_not_customer),
)


def run_check(
    check: FraudCheck,
    event: OrderEvent,
    advocate: AdvocateView,
    program: Program,
    snapshot: Snapshot,
) -> FraudFinding | None:
    """The finding of one check with the program's action for it; None if it does not fire or
    the program allows it."""
    rule = dict(FRAUD_CHECKS)[check]
    detail = rule(event, advocate, program, snapshot)
    action = program.fraud_action(check)
    if detail is None or action is FraudAction.ALLOW:
        return None
    return FraudFinding(check=check, action=action, detail=detail)


def fraud_findings(
    event: OrderEvent, advocate: AdvocateView, program: Program, snapshot: Snapshot
) -> tuple[FraudFinding, ...]:
    """Every non-ALLOW finding for the order, in `FRAUD_CHECKS` order."""
    found = (run_check(check, event, advocate, program, snapshot) for check, _ in FRAUD_CHECKS)
    return tuple(finding for finding in found if finding is not None)


def fraud_rejections(findings: tuple[FraudFinding, ...]) -> tuple[Rejection, ...]:
    """One Rejection(FRAUD) per REJECT finding, its detail naming the check."""
    return tuple(
        Rejection(reason=Reason.FRAUD, detail=f"{f.check.value}: {f.detail}")
        for f in findings
        if f.action is FraudAction.REJECT
    )


def needs_review(findings: tuple[FraudFinding, ...]) -> bool:
    """True when a finding asks for the merchant's review."""
    return any(f.action is FraudAction.REVIEW for f in findings)
