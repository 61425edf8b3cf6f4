"""What every shopper page shares: the program by its public id (with the store's language
for the locale choice), the store's look, the offer in words, the share links, and the pages
for an unknown program, an expired link and too many attempts."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from flask import Blueprint, g, render_template
from flask_babel import format_datetime, gettext

from referral_plugin.app import app_services
from referral_plugin.domain.colors import readable_text_on
from referral_plugin.domain.offers import describe_offer
from referral_plugin.domain.programs import ClaimMode
from referral_plugin.errors import NotFound
from referral_plugin.i18n import current_language
from referral_plugin.services.shopper_pages import ProgramPage, find_program_page
from referral_plugin.web.offer_text import offer_details, offer_headline, reward_text
from referral_plugin.web.shopper_links import referral_link

Page = tuple[str, int] | tuple[str, int, dict[str, str]]


def utc_now() -> datetime:
    """The one clock of the shopper views."""
    return datetime.now(tz=UTC)


def load_program_page(public_id: str) -> ProgramPage:
    """The program behind the address; raises NotFound (answered by `not_available`). Sets
    the store's language for the locale choice before anything is translated."""
    with app_services().sessions.begin() as session:
        program_page = find_program_page(session, public_id)
    g.store_language = program_page.program.appearance.language
    return program_page


def register_not_found(blueprint: Blueprint) -> None:
    """Answer NotFound raised by the blueprint's views with the shopper 404 page."""
    blueprint.register_error_handler(NotFound, lambda exc: not_available())


def render(template: str, program_page: ProgramPage | None, status: int, **context: object) -> Page:
    """`template` with the store's name and colours and the offer in the request's language."""
    return render_template(template, **store_context(program_page), **context), status


def store_context(program_page: ProgramPage | None) -> dict[str, object]:
    if program_page is None:
        return {"store_name": None, "brand": None, "on_brand": None, "program_page": None}
    program = program_page.program
    offer = describe_offer(program)
    own_words = program.copy.get(current_language())
    headline = offer_headline(offer, program_page.store_name)
    return {
        "program_page": program_page,
        "store_name": program_page.store_name,
        "brand": program.appearance.color,
        "on_brand": readable_text_on(program.appearance.color),
        "headline": (own_words and own_words.headline) or headline,
        "description": own_words.description if own_words else None,
        "offer_details": offer_details(offer),
        "friend_offer_details": offer_details(offer, for_friend=True),
        "friend_gets": None if offer.friend is None else reward_text(offer.friend),
    }


def share_message(program_page: ProgramPage, code: str, link: str) -> str:
    offer = describe_offer(program_page.program)
    store = program_page.store_name
    if offer.friend is not None and program_page.program.claim_mode is ClaimMode.PER_FRIEND:
        return gettext(  # the advocate's code is no checkout code: each friend claims one
            "Get %(reward)s at %(store)s: claim your own code at %(link)s",
            reward=reward_text(offer.friend), store=store, link=link,
        )  # fmt: skip
    if offer.friend is not None:
        return gettext(
            "Get %(reward)s at %(store)s with my code %(code)s: %(link)s",
            reward=reward_text(offer.friend), store=store, code=code, link=link,
        )  # fmt: skip
    return gettext("I like %(store)s, have a look: %(link)s", store=store, link=link)


def share_links(program_page: ProgramPage, code: str) -> dict[str, str]:
    """The one-tap share targets: each carries the link (and the message where it fits)."""
    link = referral_link(app_services().settings.public_base_url, code)
    message = share_message(program_page, code, link)
    subject = gettext("A gift from %(store)s", store=program_page.store_name)
    return {
        "link": link,
        "message": message,
        "email": "mailto:?" + urlencode({"subject": subject, "body": message}, quote_via=quote),
        "sms": "sms:?&" + urlencode({"body": message}, quote_via=quote),
        "whatsapp": "https://wa.me/?" + urlencode({"text": message}, quote_via=quote),
        "facebook": "https://www.facebook.com/sharer/sharer.php?"
        + urlencode({"u": link}, quote_via=quote),
        "x": "https://x.com/intent/post?" + urlencode({"text": message}, quote_via=quote),
    }


def not_available() -> Page:
    return render(
        "shopper/message.html", None, 404,
        title=gettext("This page is not available"),
        lines=[gettext("The referral program may have ended, or the address is incomplete. "
                       "Please check the link you were given.")],
    )  # fmt: skip


def held_out(program_page: ProgramPage) -> Page:
    """The answer to a shopper the program's A/B test holds out (its control group)."""
    return render(
        "shopper/message.html", program_page, 200,
        title=gettext("This program isn't available to you right now"),
        lines=[gettext("%(store)s is offering its referral program to some customers for now. "
                       "Thank you for your interest!", store=program_page.store_name)],
    )  # fmt: skip


def link_expired(program_page: ProgramPage, *, status_link: bool) -> Page:
    if status_link:
        lines = [
            gettext("Status links work for 30 days. The most recent email from %(store)s has "
                    "a fresh one.", store=program_page.store_name),
            gettext("Your referral code keeps working: you can see it again by joining with "
                    "the same email address."),
        ]  # fmt: skip
    else:
        lines = [gettext("Join again with the same email address: you will see the same code.")]
    return render(
        "shopper/message.html", program_page, 404,
        title=gettext("This link has expired or is not valid"), lines=lines, join_again=True,
    )  # fmt: skip


def too_many_requests(program_page: ProgramPage, retry_at: datetime) -> Page:
    seconds = max(1, math.ceil((retry_at - utc_now()).total_seconds()))
    html, status = render(
        "shopper/message.html", program_page, 429,
        title=gettext("Too many attempts"),
        lines=[gettext("Please try again after %(time)s (UTC).",
                       time=format_datetime(retry_at, format="short"))],
    )  # fmt: skip
    return html, status, {"Retry-After": str(seconds)}
