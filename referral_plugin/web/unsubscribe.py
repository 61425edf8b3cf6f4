"""The unsubscribe link of every shopper email: `/u/<token>` (token: `email_links`).

- `GET /u/<token>`: a page in the email's language (unless the browser asks for another) with
  the store's name and colour and one button. It changes nothing: mail scanners open links.
- `POST /u/<token>`: unsubscribes the address from every shopper email of the shop
  (idempotent) and says so. The same URL is the RFC 8058 one-click target (`List-Unsubscribe-
  Post: List-Unsubscribe=One-Click`), which a mail provider POSTs without cookies, so there is
  no CSRF token: the signed token itself is the permission, and the only thing it allows is
  unsubscribing the one address it was made for.
A forged or damaged token answers the shopper 404 page.
"""

from __future__ import annotations

import logging

from flask import Blueprint, g
from flask_babel import gettext

from referral_plugin.app import app_services
from referral_plugin.email_links import UnsubscribeRef, read_unsubscribe_token
from referral_plugin.errors import NotFound
from referral_plugin.services import email_unsubscribes
from referral_plugin.services.shopper_pages import ProgramPage, find_program_page
from referral_plugin.web import shopper_pages as page

logger = logging.getLogger(__name__)
blueprint = Blueprint("unsubscribe", __name__, url_prefix="/u")
page.register_not_found(blueprint)


@blueprint.get("/<token>")
def confirm(token: str) -> page.Page:
    _, program_page = _load(token)
    return _page(program_page, done=False)


@blueprint.post("/<token>")
def unsubscribe(token: str) -> page.Page:
    ref, program_page = _load(token)
    with app_services().sessions.begin() as session:
        email_unsubscribes.unsubscribe(
            session, program_page.shop_id, ref.email_hash, now=page.utc_now()
        )
    logger.info("shopper unsubscribed", extra={"shop_id": program_page.shop_id})
    return _page(program_page, done=True)


def _load(token: str) -> tuple[UnsubscribeRef, ProgramPage]:
    """The token's reference and the program it names; raises NotFound for a bad token."""
    ref = read_unsubscribe_token(app_services().settings.secret_key, token)
    if ref is None:
        raise NotFound("unsubscribe link", "(hidden)")
    with app_services().sessions.begin() as session:
        program_page = find_program_page(session, ref.public_id, active_only=False)
    g.store_language = ref.language  # the email's language, unless the reader asks otherwise
    return ref, program_page


def _page(program_page: ProgramPage, *, done: bool) -> page.Page:
    store = program_page.store_name
    if done:
        title = gettext("You are unsubscribed")
        line = gettext("%(store)s will not send you any more referral emails.", store=store)
    else:
        title = gettext("Unsubscribe from %(store)s emails?", store=store)
        line = gettext("You will not receive any more emails about the referral program of "
                       "%(store)s: no invitations, rewards or reminders.", store=store)  # fmt: skip
    return page.render(
        "shopper/unsubscribe.html", program_page, 200, title=title, line=line, done=done
    )
