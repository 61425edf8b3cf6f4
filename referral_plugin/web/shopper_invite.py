"""Inviting friends by email from the share page: `POST /p/<public_id>/share/<token>/invite`.

The share page (`web/shopper.py`, template `shopper/share.html`) shows the form while the
program sends invitations; `invite_form()` gives the template its action and CSRF token. The
view checks the signed share token and CSRF, counts the rate limits (per keyed IP hash, and
per advocate for each address), reads up to five addresses from one field, and queues the
invitations (`services.email_invites`), then 303s back to the share page with "Invitations
sent" in the flash. That answer is the same whether an address was new, invited before,
unsubscribed or the advocate's own; only malformed input gets an error, next to the field (422).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from referral_plugin.app import app_services
from referral_plugin.domain.emails import normalize_email
from referral_plugin.domain.programs import ShopperEmail
from referral_plugin.email_links import email_hash_key
from referral_plugin.errors import NotFound
from referral_plugin.i18n import current_language
from referral_plugin.services.email_invites import MAX_FRIENDS, invite_friends
from referral_plugin.services.rate_limits import Limit, count_hits
from referral_plugin.services.shopper_pages import AdvocateCode, ProgramPage, find_advocate_code
from referral_plugin.web import shopper_pages as page
from referral_plugin.web.csrf import csrf_token, csrf_valid
from referral_plugin.web.shopper import RATE_LIMIT_KEY_PURPOSE
from referral_plugin.web.shopper_links import read_share_token

blueprint = Blueprint("shopper_invite", __name__, url_prefix="/p")
page.register_not_found(blueprint)

CSRF_KEY = "shopper_invite_csrf"
FLASH_CATEGORY = "invite"
FIELD_MAX = 2000
SEPARATORS = re.compile(r"[\s,;]+")


@blueprint.app_context_processor
def _invite_form_helper() -> dict[str, object]:
    return {"invite_form": invite_form}


def invite_form() -> dict[str, str]:
    """The share page's invitation form: where it posts and its CSRF token (in this request,
    whose URL carries the program's public id and the share token)."""
    args = request.view_args or {}
    action = url_for("shopper_invite.invite", public_id=args["public_id"], token=args["token"])
    return {"action": action, "csrf_token": csrf_token(CSRF_KEY)}


@blueprint.post("/<public_id>/share/<token>/invite")
def invite(public_id: str, token: str) -> Response | page.Page:
    program_page = page.load_program_page(public_id)
    if not program_page.program.emails.sends(ShopperEmail.INVITE):
        return page.not_available()
    advocate = _advocate(program_page, token)
    if advocate is None:
        return page.link_expired(program_page, status_link=False)
    friends = _split(request.form.get("emails", ""))
    refused = _refusal(program_page, advocate, friends)
    if refused is not None:
        return refused
    _queue(program_page, advocate, friends)
    flash(gettext("Thank you! Your invitations are on their way."), FLASH_CATEGORY)
    share = url_for("shopper.share", public_id=public_id, token=token)
    return redirect(f"{share}#invite", code=303)


def _advocate(program_page: ProgramPage, token: str) -> AdvocateCode | None:
    services = app_services()
    ref = read_share_token(services.settings.secret_key, token)
    if ref is None or ref.public_id != program_page.public_id:
        return None
    try:
        with services.sessions.begin() as session:
            return find_advocate_code(
                session, program_page.shop_id, program_page.program.id, ref.code
            )
    except NotFound:
        return None


def _refusal(
    program_page: ProgramPage, advocate: AdvocateCode, friends: list[str]
) -> page.Page | None:
    """The answer when the form cannot be sent: an expired form (400), too many attempts
    (429), or what is wrong with the field (422); None when it can be sent."""
    raw = request.form.get("emails", "")
    if not csrf_valid(request.form.get("csrf_token"), CSRF_KEY):
        problem = gettext("The form expired. Please send it again.")
        return _share_page(program_page, advocate, raw, {"form": problem}, 400)
    retry_at = _rate_limited(program_page.shop_id, advocate.advocate_id, len(friends))
    if retry_at is not None:
        return page.too_many_requests(program_page, retry_at)
    problem = _problem(raw, friends)
    if problem:
        return _share_page(program_page, advocate, raw, {"emails": problem}, 422)
    return None


def _split(raw: str) -> list[str]:
    return [part for part in SEPARATORS.split(raw[:FIELD_MAX]) if part]


def _problem(raw: str, friends: list[str]) -> str | None:
    """What is wrong with the field, in words; None when it can be sent."""
    if len(raw) > FIELD_MAX or len(friends) > MAX_FRIENDS:
        return gettext("Please enter at most %(count)s email addresses.", count=MAX_FRIENDS)
    if not friends:
        return gettext("Please enter at least one email address.")
    bad = next((friend for friend in friends if normalize_email(friend) is None), None)
    if bad is not None:
        return gettext("This is not an email address: %(address)s", address=bad)
    return None


def _queue(program_page: ProgramPage, advocate: AdvocateCode, friends: list[str]) -> None:
    services = app_services()
    with services.sessions.begin() as session:
        invite_friends(
            session, program_page.shop_id, advocate.advocate_id, friends,
            language=current_language(), email_key=email_hash_key(services.settings.secret_key),
            now=page.utc_now(),
        )  # fmt: skip


def _share_page(
    program_page: ProgramPage,
    advocate: AdvocateCode,
    raw: str,
    errors: dict[str, str],
    status: int,
) -> page.Page:
    """The share page again, with the form's text and what is wrong with it."""
    return page.render(
        "shopper/share.html", program_page, status,
        code=advocate.code, first_name=advocate.first_name,
        links=page.share_links(program_page, advocate.code), code_pending=False,
        invite_values={"emails": raw}, invite_errors=errors,
    )  # fmt: skip


def _rate_limited(shop_id: int, advocate_id: int, addresses: int) -> datetime | None:
    """Count this form against the IP's hourly limit and each address against the advocate's
    daily one (in their own transaction, so refused attempts count too); when to retry."""
    services = app_services()
    settings = services.settings
    per_ip = Limit(scope="invite:ip", hits=settings.invite_limit_per_ip, window=timedelta(hours=1))
    per_advocate = Limit(
        scope="invite:advocate", hits=settings.invite_limit_per_advocate, window=timedelta(days=1)
    )
    checks = [(per_ip, request.remote_addr or "unknown")]
    checks += [(per_advocate, str(advocate_id))] * max(1, min(addresses, MAX_FRIENDS))
    key = hmac.new(settings.secret_key.encode(), RATE_LIMIT_KEY_PURPOSE, hashlib.sha256).digest()
    with services.sessions.begin() as session:
        decision = count_hits(session, shop_id, checks, key=key, now=page.utc_now())
    return decision.retry_at
