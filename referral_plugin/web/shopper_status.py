"""The advocate's status page, reached by a signed link (`web.shopper_links.status_token`):
`GET /p/<public_id>/status/<token>`. Read-only (`services.advocate_status`); a forged,
expired or foreign token answers a 404 page that says how to get a fresh link."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint
from flask_babel import format_date, gettext, lazy_gettext

from referral_plugin.app import app_services
from referral_plugin.domain.lifecycle import RewardStatus
from referral_plugin.domain.offers import RewardTerms
from referral_plugin.domain.timeline import Step, TimelineStep
from referral_plugin.errors import NotFound
from referral_plugin.services import shopper_pages as pages_service
from referral_plugin.services.advocate_status import RewardLine, advocate_status
from referral_plugin.web import shopper_pages as page
from referral_plugin.web.offer_text import money_text, reward_text
from referral_plugin.web.shopper_links import read_status_token

blueprint = Blueprint("shopper_status", __name__, url_prefix="/p")
page.register_not_found(blueprint)

# Why a referral or reward earned nothing, for the advocate (reason codes of the rules engine,
# `order_state.void_reason` and the merchant's review). Fraud findings stay vague on purpose.
REASONS = {
    "order_cancelled": lazy_gettext("The order was cancelled."),
    "order_refunded": lazy_gettext("The order was refunded."),
    "refunded_below_minimum": lazy_gettext(
        "Part of the order was refunded, and the rest is below the minimum amount."
    ),
    "rejected_by_merchant": lazy_gettext("The store declined this referral."),
    "self_referral": lazy_gettext("You cannot refer yourself."),
    "not_first_order": lazy_gettext("Your friend had ordered before: only first orders count."),
    "below_minimum": lazy_gettext("The order was below the minimum amount."),
    "outside_dates": lazy_gettext("The order was placed outside the program's dates."),
    "country_not_allowed": lazy_gettext("The program does not cover the order's country."),
    "product_not_in_scope": lazy_gettext("The order had no products the program covers."),
    "currency_mismatch": lazy_gettext("The order was paid in another currency."),
    "test_order": lazy_gettext("It was a test order."),
    "advocate_cap_reached": lazy_gettext("You have reached this program's reward limit."),
    "program_cap_reached": lazy_gettext("The program has given all its rewards for now."),
    "fraud": lazy_gettext("The order did not pass the store's checks."),
    "program_inactive": lazy_gettext("The program had ended."),
    "advocate_inactive": lazy_gettext("Your membership in this program is paused."),
    "friend_code_other_email": lazy_gettext("The code was meant for another email address."),
}
OTHER_REASON = lazy_gettext("This order did not qualify for a reward.")
REWARD_STATUSES = {
    RewardStatus.PENDING: lazy_gettext("Waiting for payment"),
    RewardStatus.HELD: lazy_gettext("Pending"),
    RewardStatus.APPROVED: lazy_gettext("Approved, on its way"),
    RewardStatus.ISSUED: lazy_gettext("Ready to use"),
    RewardStatus.REDEEMED: lazy_gettext("Used"),
    RewardStatus.EXPIRED: lazy_gettext("Expired"),
    RewardStatus.REVERSED: lazy_gettext("Cancelled"),
}


@blueprint.get("/<public_id>/status/<token>")
def status(public_id: str, token: str) -> page.Page:
    program_page = page.load_program_page(public_id)
    services = app_services()
    ref = read_status_token(services.settings.secret_key, token)
    if ref is None or ref.public_id != public_id:
        return page.link_expired(program_page, status_link=True)
    try:
        with services.sessions.begin() as session:
            advocate = pages_service.find_advocate_code(
                session, program_page.shop_id, program_page.program.id, ref.code
            )
            found = advocate_status(session, program_page.shop_id, advocate.advocate_id)
    except NotFound:
        return page.link_expired(program_page, status_link=True)
    program_page = pages_service.seen_by(program_page, advocate.variant)
    return page.render(
        "shopper/status.html", program_page, 200,
        summary=found, balance=money_text(found.balance),
        referrals=[(line.number, [step_text(s) for s in line.steps]) for line in found.referrals],
        rewards=[reward_row(line) for line in found.rewards],
    )  # fmt: skip


def step_text(step: TimelineStep) -> dict[str, str | bool]:
    """One timeline step as words: {"label", "when", "detail", "current"}."""
    when = "" if step.at is None else format_date(step.at, format="medium")
    labels = {
        Step.CLICKED: gettext("Clicked your link"),
        Step.CLAIMED: gettext("Claimed the offer"),
        Step.ORDERED: gettext("Ordered"),
        Step.AWAITING_PAYMENT: gettext("Waiting for payment"),
        Step.IN_REVIEW: gettext("Being checked by the store"),
        Step.APPROVED: gettext("Approved"),
        Step.DECLINED: gettext("Declined"),
    }
    if step.step is Step.PENDING:
        until = "" if step.until is None else format_date(step.until, format="long")
        label = gettext("Pending until %(date)s", date=until)
        detail = gettext("Rewards wait until the return period ends.")
    else:
        label, detail = labels[step.step], ""
    if step.step is Step.DECLINED:
        detail = str(REASONS.get(step.reason or "", OTHER_REASON))
    return {"label": label, "when": when, "detail": detail, "step": step.step.value}


def reward_row(line: RewardLine) -> dict[str, str]:
    """One reward as words: what it is, its status (with the date that matters), its code."""
    terms = RewardTerms(
        kind=line.kind,
        percent=None if line.percent is None else Decimal(line.percent),
        money=line.value,
        points=line.points,
    )
    status_text = str(REWARD_STATUSES[line.status])
    if line.status is RewardStatus.HELD and line.hold_until is not None:
        status_text = gettext(
            "Pending until %(date)s", date=format_date(line.hold_until, format="long")
        )
    expires = ""
    if line.expires_at is not None and line.status is RewardStatus.ISSUED:
        expires = gettext("Use it by %(date)s", date=format_date(line.expires_at, format="long"))
    reason = str(REASONS.get(line.reason or "", OTHER_REASON)) if line.reason else ""
    return {
        "what": reward_text(terms),
        "status": status_text,
        "code": line.code or "",
        "expires": expires,
        "reason": reason,
    }
