"""The live preview of a program being set up: the REAL shopper templates (the advocate's share
page; the friend's claim or landing page) rendered for a draft program with a sample advocate,
in the program's language, for the dashboard to show in a sandboxed iframe. Nothing is read or
written but the draft itself: no advocate, code, click or store call is made.

Where the friend sees no page of ours (the store applies the code itself, or the program has no
discount for friends), `friend_note` says what happens instead (`dashboard/_friend_note.html`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import render_template
from flask_babel import force_locale

from connectors.storefronts import Storefront, storefront_for
from referral_plugin.app import app_services
from referral_plugin.domain.languages import DEFAULT_LANGUAGE
from referral_plugin.domain.offers import describe_offer, reward_terms
from referral_plugin.domain.programs import ClaimMode, Program, RewardSpec
from referral_plugin.domain.store import friend_code_offer
from referral_plugin.services.shopper_pages import ProgramPage
from referral_plugin.web.dashboard.access import Merchant
from referral_plugin.web.offer_text import offer_headline, reward_text
from referral_plugin.web.shopper_pages import share_links, store_context

SAMPLE_CODE = "ANNA7K2Q"
SAMPLE_FIRST_NAME = "Anna"
PREVIEW_KEY = b"dashboard-preview"  # only decides whether a friend offer exists; never stored
# Links inside the preview open nothing: the sandbox refuses new windows and form posts.
BASE_TARGET = '<base target="_blank">'


@dataclass(frozen=True, slots=True, kw_only=True)
class Preview:
    program: Program  # the draft, valid
    offer: str  # the offer in one line, as shoppers read it
    advocate_html: str  # the share page
    friend_html: str | None  # the claim or landing page, None when the friend sees none of ours
    friend_note: str  # what happens for the friend: claim, landing, store, no_discount
    friend_gets: str | None
    store_link: str | None  # where a Shopify friend lands with the code applied


def offer_in_words(program: Program, store_name: str) -> str:
    """The offer as the shopper pages say it, in English ("Give 15% off, get $10")."""
    with force_locale(DEFAULT_LANGUAGE):
        return offer_headline(describe_offer(program), store_name)


def reward_words(spec: RewardSpec, currency: str) -> str:
    """One reward as the shopper pages say it, in English ("$10 in store credit")."""
    with force_locale(DEFAULT_LANGUAGE):
        terms = reward_terms(spec, currency)
        return "" if terms is None else reward_text(terms)


def preview(program: Program, merchant: Merchant, *, public_id: str, now: datetime) -> Preview:
    """The pages the advocate and the friend would see for `program` (not stored)."""
    page = ProgramPage(
        shop_id=merchant.shop_id, public_id=public_id, program=program,
        store_name=merchant.shop_name,
    )  # fmt: skip
    storefront = storefront_for(merchant.platform, merchant.domain, app_services().settings)
    with force_locale(program.appearance.language or DEFAULT_LANGUAGE):
        advocate_html = _share_page(page)
        note, friend_html = _friend_page(page, program, storefront, now)
        offer = describe_offer(program)
        friend_gets = None if offer.friend is None else reward_text(offer.friend)
    return Preview(
        program=program, offer=offer_in_words(program, merchant.shop_name),
        advocate_html=advocate_html, friend_html=friend_html, friend_note=note,
        friend_gets=friend_gets,
        store_link=storefront.discount_link(SAMPLE_CODE, SAMPLE_CODE) if note == "store" else None,
    )  # fmt: skip


def _share_page(page: ProgramPage) -> str:
    return _framed(render_template(
        "shopper/share.html", **store_context(page), code=SAMPLE_CODE,
        first_name=SAMPLE_FIRST_NAME, links=share_links(page, SAMPLE_CODE), code_pending=False,
        invite_form=lambda: {"action": "#", "csrf_token": ""},
    ))  # fmt: skip


def _friend_page(
    page: ProgramPage, program: Program, storefront: Storefront, now: datetime
) -> tuple[str, str | None]:
    """(what happens, the page) for a friend following the sample advocate's link, as
    `web/referral_link.py` decides it."""
    context = store_context(page)
    if program.claim_mode is ClaimMode.PER_FRIEND:
        return "claim", _framed(
            render_template("shopper/claim.html", **context, email="", error=None, csrf_token="")
        )
    if friend_code_offer(program, now=now, key=PREVIEW_KEY) is None:
        return "no_discount", None
    if storefront.discount_link(SAMPLE_CODE, SAMPLE_CODE) is not None:
        return "store", None
    return "landing", _framed(render_template(
        "shopper/landing.html", **context, code=SAMPLE_CODE, state="in_store", claimed=False,
        store_url=storefront.home(SAMPLE_CODE), works_from=None, in_store=True,
    ))  # fmt: skip


def _framed(html: str) -> str:
    return html.replace("<head>", "<head>\n  " + BASE_TARGET, 1)
