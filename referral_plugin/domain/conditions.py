"""Referral conditions: the whole-referral rejections (test order, dates, minimum, scope, ...)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .clock import utc
from .decisions import AdvocateView, Attribution, CodeKind, Reason, Rejection, Snapshot
from .emails import identity_email
from .events import LineItem, OrderEvent
from .experiments import in_holdout
from .programs import Conditions, Program


@dataclass(frozen=True, slots=True, kw_only=True)
class Referral:
    """An attributed order with what the snapshot knows about its program and advocate."""

    event: OrderEvent
    attribution: Attribution
    snapshot: Snapshot
    program: Program | None
    advocate: AdvocateView | None


def placed_at(event: OrderEvent) -> datetime:
    """When the order was placed (else when the event happened), as aware UTC."""
    return utc(event.placed_at or event.occurred_at)


def in_scope(line: LineItem, conditions: Conditions) -> bool:
    """True when the line's product or one of its collections is in the program's scope."""
    if line.product_id is not None and line.product_id in conditions.product_ids:
        return True
    return any(c in conditions.collection_ids for c in line.collection_ids)


def has_scope(conditions: Conditions) -> bool:
    """True when the program is limited to some products or collections."""
    return bool(conditions.product_ids or conditions.collection_ids)


def eligible_subtotal(event: OrderEvent, conditions: Conditions) -> Decimal:
    """The part of the order the program rewards: in-scope line totals, else the subtotal.

    Unknown amounts count as zero.
    """
    if not has_scope(conditions):
        return event.subtotal if event.subtotal is not None else Decimal(0)
    lines = event.line_items or ()
    return sum((line.total for line in lines if in_scope(line, conditions)), Decimal(0))


def _reject(reason: Reason, detail: str) -> Rejection:
    return Rejection(reason=reason, detail=detail)


def _test_order(r: Referral) -> Rejection | None:
    accepts = r.program is not None and r.program.conditions.accept_test_orders
    if r.event.is_test and not accepts:
        return _reject(Reason.TEST_ORDER, "test order and the program does not accept test orders")
    return None


def _program_inactive(r: Referral) -> Rejection | None:
    if r.program is None:
        return _reject(Reason.PROGRAM_INACTIVE, f"program {r.attribution.program_id} not found")
    if not r.program.active:
        return _reject(Reason.PROGRAM_INACTIVE, f"program {r.program.id} is not active")
    return None


def _advocate_inactive(r: Referral) -> Rejection | None:
    if r.advocate is None:
        return _reject(Reason.ADVOCATE_INACTIVE, f"advocate {r.attribution.advocate_id} not found")
    if not r.advocate.active:
        return _reject(Reason.ADVOCATE_INACTIVE, f"advocate {r.advocate.id} is not active")
    return None


def _holdout(r: Referral) -> Rejection | None:
    if r.program is None or r.advocate is None or not in_holdout(r.program, r.advocate.variant):
        return None
    return _reject(Reason.HOLDOUT, "holdout group: this advocate is in the program's control group")


def _self_referral(r: Referral) -> Rejection | None:
    if r.advocate is None:
        return None
    email = identity_email(r.event.email)
    if email is not None and email == identity_email(r.advocate.email):
        return _reject(Reason.SELF_REFERRAL, "the order email reaches the advocate's inbox")
    customer = r.event.customer_id
    if customer is not None and customer == r.advocate.customer_id:
        return _reject(Reason.SELF_REFERRAL, "the order's customer is the advocate")
    return None


def _friend_code_other_email(r: Referral) -> Rejection | None:
    view = r.snapshot.codes.get(r.attribution.code)
    if view is None or view.kind is not CodeKind.FRIEND or view.friend_email is None:
        return None
    # A bound code is honoured only when we can see it is that friend's order.
    if identity_email(r.event.email) != identity_email(view.friend_email):
        return _reject(
            Reason.FRIEND_CODE_OTHER_EMAIL, "the friend code is bound to a different email"
        )
    return None


def _currency_mismatch(r: Referral) -> Rejection | None:
    if r.program is None:
        return None
    currency = (r.event.currency or "").upper()
    if currency != r.program.currency:
        shown = currency or "unknown"
        return _reject(
            Reason.CURRENCY_MISMATCH, f"order in {shown}, program in {r.program.currency}"
        )
    return None


def _outside_dates(r: Referral) -> Rejection | None:
    if r.program is None:
        return None
    when = placed_at(r.event)
    starts, ends = r.program.conditions.starts_at, r.program.conditions.ends_at
    if starts is not None and when < utc(starts):
        return _reject(Reason.OUTSIDE_DATES, f"placed {when.isoformat()}, before the start")
    if ends is not None and when >= utc(ends):
        return _reject(Reason.OUTSIDE_DATES, f"placed {when.isoformat()}, after the end")
    return None


def _below_minimum(r: Referral) -> Rejection | None:
    if r.program is None or r.program.conditions.minimum_subtotal is None:
        return None
    minimum = r.program.conditions.minimum_subtotal
    eligible = eligible_subtotal(r.event, r.program.conditions)
    if eligible < minimum:
        return _reject(Reason.BELOW_MINIMUM, f"eligible subtotal {eligible} < minimum {minimum}")
    return None


def _not_first_order(r: Referral) -> Rejection | None:
    if r.program is None or not r.program.conditions.first_order_only:
        return None
    platform_count = r.event.customer_order_count or 0
    if r.snapshot.prior_orders > 0 or platform_count > 1:
        return _reject(
            Reason.NOT_FIRST_ORDER,
            f"{r.snapshot.prior_orders} earlier orders seen; platform count {platform_count}",
        )
    return None


def _country_not_allowed(r: Referral) -> Rejection | None:
    if r.program is None or not r.program.conditions.allowed_countries:
        return None
    allowed = {c.upper() for c in r.program.conditions.allowed_countries}
    country = (r.event.country or "").upper()
    if country not in allowed:
        return _reject(Reason.COUNTRY_NOT_ALLOWED, f"country {country or 'unknown'} not allowed")
    return None


def _product_not_in_scope(r: Referral) -> Rejection | None:
    if r.program is None or not has_scope(r.program.conditions):
        return None
    if not any(in_scope(line, r.program.conditions) for line in r.event.line_items or ()):
        return _reject(Reason.PRODUCT_NOT_IN_SCOPE, "no line item is in the program's scope")
    return None


CONDITION_CHECKS: tuple[Callable[[Referral], Rejection | None], ...] = (
    _test_order,
    _program_inactive,
    _advocate_inactive,
    _holdout,
    _self_referral,
    _friend_code_other_email,
    _currency_mismatch,
    _outside_dates,
    _below_minimum,
    _not_first_order,
    _country_not_allowed,
    _product_not_in_scope,
)


def condition_rejections(referral: Referral) -> tuple[Rejection, ...]:
    """Every whole-referral rejection that applies, in `CONDITION_CHECKS` order (all, not just
    the first, so the merchant sees every reason)."""
    found = (check(referral) for check in CONDITION_CHECKS)
    return tuple(rejection for rejection in found if rejection is not None)
