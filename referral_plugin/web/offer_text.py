"""The program's offer and rewards in words of the request's language ("Give 15% off, get
$10"), from the pure `domain.offers.describe_offer` terms; money and percent formatted by
Babel for the locale (whole amounts without ".00")."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from babel.numbers import format_currency, format_percent
from flask_babel import get_locale, gettext

from referral_plugin.domain.money import Money
from referral_plugin.domain.offers import OfferDescription, RewardTerms
from referral_plugin.domain.programs import RewardKind


def money_text(money: Money) -> str:
    """ "$10", "$10.50", "10 USD" (ro/pl/it), "‎$ 10" (fa)."""
    locale = get_locale()
    if money.amount == money.amount.to_integral_value():
        pattern = locale.currency_formats["standard"].pattern.replace(".00", "")
        return format_currency(
            money.amount, money.currency, format=pattern, currency_digits=False, locale=locale
        )
    return format_currency(money.amount, money.currency, locale=locale)


def percent_text(percent: Decimal) -> str:
    """Decimal("15") → "15%" ("15 %" in Romanian)."""
    return format_percent(percent / 100, locale=get_locale(), decimal_quantization=False)


def reward_text(terms: RewardTerms) -> str:
    """What one side gets, e.g. "15% off", "$10 store credit", "100 points"."""
    phrase = _PHRASES.get(terms.kind, _custom)
    return phrase(terms)


def offer_headline(offer: OfferDescription, store_name: str) -> str:
    """The offer in one line: "Give 15% off, get $10"."""
    friend = None if offer.friend is None else reward_text(offer.friend)
    advocate = None if offer.advocate is None else reward_text(offer.advocate)
    if friend and advocate:
        return gettext("Give %(friend)s, get %(advocate)s", friend=friend, advocate=advocate)
    if friend:
        return gettext("Give your friends %(friend)s", friend=friend)
    if advocate:
        return gettext("Get %(advocate)s for each friend who orders", advocate=advocate)
    return gettext("Share %(store)s with your friends", store=store_name)


def offer_details(offer: OfferDescription, *, for_friend: bool = False) -> list[str]:
    """The conditions worth saying: the minimum order, and (to the advocate, not the friend)
    the milestone."""
    lines = []
    if not for_friend and offer.milestone_count is not None and offer.milestone_count > 1:
        lines.append(
            gettext(
                "Your reward comes with your friend number %(count)s.", count=offer.milestone_count
            )
        )
    if offer.minimum_subtotal is not None:
        lines.append(
            gettext("On orders of %(amount)s or more.", amount=money_text(offer.minimum_subtotal))
        )
    return lines


def _value(terms: RewardTerms) -> str:
    if terms.percent is not None:
        return percent_text(terms.percent)
    return "" if terms.money is None else money_text(terms.money)


def _off(terms: RewardTerms) -> str:
    if terms.of_order:
        return gettext("%(percent)s of the order off", percent=_value(terms))
    return gettext("%(value)s off", value=_value(terms))


def _credit(terms: RewardTerms) -> str:
    if terms.of_order:
        return gettext("%(percent)s of the order in store credit", percent=_value(terms))
    return gettext("%(amount)s in store credit", amount=_value(terms))


def _cash(terms: RewardTerms) -> str:
    if terms.of_order:
        return gettext("%(percent)s of the order in cash", percent=_value(terms))
    return gettext("%(amount)s in cash", amount=_value(terms))


def _points(terms: RewardTerms) -> str:
    if terms.of_order:
        return gettext("points worth %(percent)s of the order", percent=_value(terms))
    return gettext("%(points)s points", points=terms.points or 0)


def _charity(terms: RewardTerms) -> str:
    return gettext("a donation of %(amount)s to %(charity)s", amount=_value(terms) or "",
                   charity=terms.label or gettext("charity"))  # fmt: skip


def _custom(terms: RewardTerms) -> str:
    return terms.label or gettext("a thank-you gift")


_PHRASES: dict[RewardKind, Callable[[RewardTerms], str]] = {
    RewardKind.PERCENT_DISCOUNT: _off,
    RewardKind.FIXED_DISCOUNT: _off,
    RewardKind.FREE_SHIPPING: lambda terms: gettext("free shipping"),
    RewardKind.FREE_PRODUCT: lambda terms: gettext("a free gift"),
    RewardKind.STORE_CREDIT: _credit,
    RewardKind.CASH: _cash,
    RewardKind.POINTS: _points,
    RewardKind.CHARITY: _charity,
    RewardKind.VIP: lambda terms: gettext("VIP access"),
    RewardKind.CUSTOM: _custom,
}
