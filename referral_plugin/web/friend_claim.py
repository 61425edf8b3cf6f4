"""The per-friend claim on the referral link: the form (`claim_page`, shown by `GET /r/<code>`
of a per-friend program) and `POST /r/<code>`.

The POST: the advocate's own browser gets their own-link page; then CSRF (`web/csrf.py`), the
rate limits per keyed IP hash and per email (`services.rate_limits`, in their own transaction
so refused and failed attempts count; 429 with when to try again), the email checked next to
the field, then `services.claims.claim_friend_code` (idempotent per program and inbox; the
advocate's own inbox is refused with a clear message and no code). The code is pushed into
the store as a single-use code bound to the email (`friend_code_jobs.push_code`) BEFORE it is
shown: on Shopify a 303 to the store's discount link, which applies it; on WooCommerce the
landing page with the code to copy. When the store cannot take it now, the landing page shows
the code and from when it will work (the worker keeps pushing it). A new and an earlier claim
of the same email get the same answer, and nothing on the page names another email.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, redirect, request, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from connectors.storefronts import storefront_for
from referral_plugin.app import app_services
from referral_plugin.domain.emails import normalize_email
from referral_plugin.domain.programs import ClaimMode
from referral_plugin.errors import ValidationError
from referral_plugin.friend_code_jobs import FriendCodeState, push_code
from referral_plugin.services.claims import ClaimedCode, SelfReferral, claim_friend_code
from referral_plugin.services.clicks import ReferralLink
from referral_plugin.services.rate_limits import Limit, count_hits
from referral_plugin.web import friend_pages
from referral_plugin.web import shopper_pages as page
from referral_plugin.web.csrf import csrf_token, csrf_valid, use_lax_session_cookie

blueprint = Blueprint("friend_claim", __name__)
CSRF_KEY = "friend_claim_csrf"
SHOWN_CODE_STATES = frozenset({FriendCodeState.IN_STORE, FriendCodeState.PENDING})


@blueprint.record_once
def _cookie_defaults(state: BlueprintSetupState) -> None:
    use_lax_session_cookie(state.app)


friend_pages.register_handlers(blueprint)


@blueprint.post("/r/<code>")
def claim(code: str) -> ResponseReturnValue:
    link = friend_pages.load_link(code)
    if link.page.program.claim_mode is not ClaimMode.PER_FRIEND:
        return redirect(url_for("referral_link.follow", code=link.code), code=303)
    if friend_pages.is_own_link(link):
        return friend_pages.own_link(link)
    email = request.form.get("email", "").strip()
    if not csrf_valid(request.form.get("csrf_token"), CSRF_KEY):
        return claim_page(link, email=email, error="expired", status=400)
    retry_at = _rate_limited(link, email)
    if retry_at is not None:
        return page.too_many_requests(link.page, retry_at)
    if normalize_email(email) is None:
        return claim_page(link, email=email, error="email", status=422)
    try:
        with app_services().sessions.begin() as session:
            claimed = claim_friend_code(
                session, link.page.shop_id, program_id=link.page.program.id,
                advocate_id=link.advocate_id, email=email, now=page.utc_now(),
            )  # fmt: skip
    except SelfReferral:
        return claim_page(link, email=email, error="self", status=422)
    except ValidationError:  # the service's stricter email check
        return claim_page(link, email=email, error="email", status=422)
    return _show_code(link, claimed)


def claim_page(
    link: ReferralLink, *, email: str = "", error: str | None = None, status: int = 200
) -> page.Page:
    """The claim form; `error` is "expired", "email" or "self" (said in the template)."""
    return page.render(
        "shopper/claim.html", link.page, status,
        email=email, error=error, csrf_token=csrf_token(CSRF_KEY),
    )  # fmt: skip


def _show_code(link: ReferralLink, claimed: ClaimedCode) -> ResponseReturnValue:
    services = app_services()
    push = push_code(services, link.page.shop_id, claimed.code_id, now=page.utc_now())
    storefront = storefront_for(link.platform, link.store, services.settings)
    if push.state is FriendCodeState.IN_STORE:
        direct = storefront.discount_link(claimed.code, claimed.code)
        if direct is not None:
            return redirect(direct, code=303)
    return friend_pages.landing(
        link, code=claimed.code if push.state in SHOWN_CODE_STATES else None, push=push,
        store_url=storefront.home(claimed.code), claimed=True,
    )  # fmt: skip


def _rate_limited(link: ReferralLink, email: str) -> datetime | None:
    """Count this claim against the IP's and the email's limits (in their own transaction);
    the time to try again when over a limit."""
    services = app_services()
    settings = services.settings
    hour = timedelta(hours=1)
    checks = [(Limit(scope="claim:ip", hits=settings.claim_limit_per_ip, window=hour),
               friend_pages.client_ip())]  # fmt: skip
    normalized = normalize_email(email)
    if normalized is not None:
        checks.append((Limit(scope="claim:email", hits=settings.claim_limit_per_email,
                             window=hour), normalized))  # fmt: skip
    with services.sessions.begin() as session:
        decision = count_hits(
            session, link.page.shop_id, checks, key=friend_pages.limit_key(), now=page.utc_now()
        )
    return decision.retry_at
