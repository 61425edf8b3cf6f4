"""What the friend's pages (`/r/<code>`: `web/referral_link.py`, `web/friend_claim.py`) share:
finding the link behind a code under the guard against guessing, the advocate's own-link
cookie, the visit (click and `rp_ref` cookie), the landing page with a code, and the 404 and
429 pages.

Cookies (all HttpOnly, SameSite=Lax, Secure when the request came over https):
- `rp_ref`: the code of the link this browser followed last, for 30 days.
- `rp_own`: set by the advocate's share page; signed (itsdangerous, purpose-bound salt) and
  sent to `/r/` only, it names the advocate's codes (the last ten), so their own link shows
  them "this is your own link" instead of a friend's discount.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime
from typing import Any

from flask import Blueprint, g, request, url_for
from flask_babel import format_datetime, gettext
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from referral_plugin.app import app_services
from referral_plugin.domain.codes import normalize_code
from referral_plugin.errors import NotFound
from referral_plugin.friend_code_jobs import CodePush, FriendCodeState
from referral_plugin.services import clicks
from referral_plugin.services.clicks import ReferralLink
from referral_plugin.web import shopper_pages as page
from referral_plugin.web.shopper_links import AdvocateRef, referral_link, share_token

REF_COOKIE = "rp_ref"
REF_COOKIE_SECONDS = 30 * 24 * 3600
OWN_COOKIE = "rp_own"
OWN_COOKIE_SECONDS = 365 * 24 * 3600
OWN_COOKIE_PATH = "/r/"
OWN_COOKIE_CODES = 10
OWN_SALT = "referral-plugin/own-link/v1"
KEY_PURPOSE = b"referral-plugin/referral-link/v1"  # keys the lookup and claim limits


class TooManyLookups(Exception):
    """This IP asked for too many unknown codes: no lookup until `retry_at`."""

    def __init__(self, retry_at: datetime) -> None:
        super().__init__("too many unknown codes")
        self.retry_at = retry_at


def register_handlers(blueprint: Blueprint) -> None:
    """Answer NotFound with the link's 404 page and TooManyLookups with the 429 page."""
    blueprint.register_error_handler(NotFound, lambda exc: link_unavailable())
    blueprint.register_error_handler(TooManyLookups, lambda exc: too_many_lookups(exc.retry_at))


def limit_key() -> bytes:
    """The key of the link's and the claim's rate-limit counters (from SECRET_KEY)."""
    secret = app_services().settings.secret_key.encode()
    return hmac.new(secret, KEY_PURPOSE, hashlib.sha256).digest()


def client_ip() -> str:
    return request.remote_addr or "unknown"


def load_link(code: str) -> ReferralLink:
    """The live link behind `code`; raises TooManyLookups while this IP is over its limit of
    unknown codes (found or not), NotFound for an unknown or dead code (counted). Sets the
    store's language for the locale choice."""
    services = app_services()
    now, key, ip = page.utc_now(), limit_key(), client_ip()
    limit = services.settings.link_miss_limit_per_ip
    link: ReferralLink | None = None
    with services.sessions.begin() as session:  # the miss is counted even though we refuse
        retry_at = clicks.lookups_blocked_until(session, key=key, ip=ip, limit=limit, now=now)
        if retry_at is None:
            try:
                link = clicks.find_referral_link(session, code)
            except NotFound:
                clicks.count_miss(session, key=key, ip=ip, now=now)
    if retry_at is not None:
        raise TooManyLookups(retry_at)
    if link is None:
        raise NotFound("code", "(hidden)")
    g.store_language = link.page.program.appearance.language
    return link


def remember_own_code(response: Response, code: str) -> None:
    """Make this browser the advocate's: their link (`/r/<code>`) then shows it as their own."""
    codes = [normalize_code(code)] + [c for c in _own_codes() if c != normalize_code(code)]
    value = _own_serializer().dumps(codes[:OWN_COOKIE_CODES])
    _set_cookie(response, OWN_COOKIE, value, OWN_COOKIE_SECONDS, path=OWN_COOKIE_PATH)


def is_own_link(link: ReferralLink) -> bool:
    """True when this browser's signed own-link cookie names the link's code."""
    return normalize_code(link.code) in _own_codes()


def _own_codes() -> list[str]:
    raw = request.cookies.get(OWN_COOKIE)
    if not raw:
        return []
    try:
        value: Any = _own_serializer().loads(raw, max_age=OWN_COOKIE_SECONDS)
    except BadData:  # forged, expired, or signed with another key
        return []
    return [c for c in value if isinstance(c, str)] if isinstance(value, list) else []


def _own_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(app_services().settings.secret_key, salt=OWN_SALT)


def record_visit(
    link: ReferralLink, response: Response, *, destination: str | None, now: datetime
) -> None:
    """The friend followed the link: a click (not for HEAD, previews, prefetches; repeats
    count once) and the `rp_ref` cookie. `destination` is where the friend was sent."""
    if request.method == "HEAD":
        return
    agent = request.headers.get("User-Agent")
    purpose = request.headers.get("Sec-Purpose") or request.headers.get("Purpose")
    if clicks.is_link_preview(agent, purpose):
        return
    services = app_services()
    with services.sessions.begin() as session:
        clicks.record_click(
            session, link, ip_hash=clicks.ip_hash(services.code_key, request.remote_addr),
            user_agent=agent, landing_url=destination, now=now,
        )  # fmt: skip
    _set_cookie(response, REF_COOKIE, link.code, REF_COOKIE_SECONDS, path="/")


def _set_cookie(response: Response, name: str, value: str, seconds: int, *, path: str) -> None:
    response.set_cookie(
        name, value, max_age=seconds, path=path, secure=request.is_secure, httponly=True,
        samesite="Lax",
    )  # fmt: skip


def landing(
    link: ReferralLink, *, code: str | None, push: CodePush, store_url: str, claimed: bool
) -> page.Page:
    """The landing page: the code to use at checkout (and when it will work, if not yet), a
    link to the store carrying `?ref=`; for a claimed code, that it is bound to the email."""
    retry_at = push.retry_at
    return page.render(
        "shopper/landing.html", link.page, 200,
        code=code, state=push.state.value, claimed=claimed, store_url=store_url,
        works_from=None if retry_at is None else format_datetime(retry_at, format="short"),
        in_store=push.state is FriendCodeState.IN_STORE,
    )  # fmt: skip


def own_link(link: ReferralLink) -> page.Page:
    """The advocate opened their own link: no discount, no click; the link to copy, and their
    share page (a fresh share token) with every way to share it."""
    settings = app_services().settings
    token = share_token(settings.secret_key, AdvocateRef(link.page.public_id, link.code))
    return page.render(
        "shopper/own_link.html", link.page, 200,
        code=link.code, link=referral_link(settings.public_base_url, link.code),
        share_page=url_for("shopper.share", public_id=link.page.public_id, token=token),
    )  # fmt: skip


def link_unavailable() -> page.Page:
    return page.render("shopper/link_unavailable.html", None, 404)


def too_many_lookups(retry_at: datetime) -> page.Page:
    seconds = max(1, math.ceil((retry_at - page.utc_now()).total_seconds()))
    rendered = page.render(
        "shopper/message.html", None, 429,
        title=gettext("Too many attempts"),
        lines=[gettext("Please try again after %(time)s (UTC).",
                       time=format_datetime(retry_at, format="short"))],
    )  # fmt: skip
    return rendered[0], rendered[1], {"Retry-After": str(seconds)}
