"""Signing in to the dashboard with a link mailed to the store's admin email, and out again.

- `GET /admin/login`: the form (store address or the store's admin email; CSRF token).
- `POST /admin/login`: when the text names a connected store that may sign in this way (see
  `access.session_allowed`), a single-use link valid for 15 minutes goes into the outbox for
  the store's admin email (`shops.email`, saved at connect). The answer is the same whether
  anything matched or not, and also when the store's or the IP's hourly limit is used up
  (`services.rate_limits`; nothing is sent then), so the form tells nobody which stores exist.
- `GET /admin/login/<token>`: a "Sign in" button; showing it consumes nothing, because mail
  scanners open links before people do.
- `POST /admin/login/<token>`: consumes the link, starts a session (`services.merchant_sessions`)
  and sets its cookie (HttpOnly, SameSite=Lax, Secure over https, path /admin, idle and
  absolute expiry on the server).
- `POST /admin/logout`: ends the session and clears the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime, timedelta

from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState

from connectors.shopify.shop_domain import valid_shop_domain
from connectors.woocommerce.store_url import StoreUrlError, checked_store_url
from referral_plugin.app import app_services
from referral_plugin.domain.emails import normalize_email
from referral_plugin.domain.events import Platform
from referral_plugin.services import merchant_sessions
from referral_plugin.services.outbox import enqueue_message
from referral_plugin.services.rate_limits import Limit, count_hits
from referral_plugin.web.csrf import csrf_token, csrf_valid, use_lax_session_cookie
from referral_plugin.web.dashboard.access import (
    COOKIE_PATH,
    SESSION_COOKIE,
    frame_ancestors,
    session_allowed,
    utc_now,
)
from referral_plugin.web.dashboard.render import CSRF_KEY, STATIC_FOLDER, render_page

logger = logging.getLogger(__name__)
blueprint = Blueprint(
    "dashboard_sign_in", __name__, url_prefix="/admin",
    static_folder=str(STATIC_FOLDER), static_url_path="/static",
)  # fmt: skip
blueprint.after_request(frame_ancestors)

SIGN_IN_CSRF_KEY = "dashboard_sign_in_csrf"
RATE_LIMIT_KEY_PURPOSE = b"referral-plugin/dashboard-sign-in-limits/v1"
ADDRESS_MAX = 320
LINK_MINUTES = int(merchant_sessions.SIGN_IN_LINK_TTL.total_seconds() // 60)


@blueprint.record_once
def _cookie_defaults(state: BlueprintSetupState) -> None:
    use_lax_session_cookie(state.app)


@blueprint.get("/login")
def sign_in_form() -> tuple[str, int]:
    note = (
        "sent" if "sent" in request.args else "signed_out" if "signed_out" in request.args else None
    )
    return _form_page("", None, 200, note=note)


@blueprint.post("/login")
def send_sign_in_link() -> Response | tuple[str, int]:
    raw = request.form.get("address", "").strip()[:ADDRESS_MAX]
    if not csrf_valid(request.form.get("csrf_token"), SIGN_IN_CSRF_KEY):
        return _form_page(raw, "form_expired", 400)
    address = _address(raw)
    if address is None:
        return _form_page(raw, "address", 422)
    services = app_services()
    platforms = frozenset(p for p in Platform if session_allowed(services.settings, p))
    now = utc_now()
    with services.sessions.begin() as db:
        targets = merchant_sessions.find_sign_in_targets(
            db, domain=address[0], email=address[1], platforms=platforms
        )
    for target in targets:
        if _within_limits(target.shop_id):
            _send_link(target, now)
        else:
            logger.info("dashboard sign-in: limit reached", extra={"shop_id": target.shop_id})
    return redirect(url_for(".sign_in_form", sent=1), code=303)


@blueprint.get("/login/<token>")
def sign_in_page(token: str) -> tuple[str, int]:
    with app_services().sessions.begin() as db:
        store_name = merchant_sessions.usable_sign_in_link(db, token, now=utc_now())
    if store_name is None:
        return render_page("dashboard/sign_in_link.html", 404, store_name=None)
    return _link_page(store_name, 200)


@blueprint.post("/login/<token>")
def sign_in(token: str) -> Response | tuple[str, int]:
    services = app_services()
    if not csrf_valid(request.form.get("csrf_token"), SIGN_IN_CSRF_KEY):
        with services.sessions.begin() as db:
            store_name = merchant_sessions.usable_sign_in_link(db, token, now=utc_now())
        return _link_page(store_name, 400, problem="form_expired")
    settings = services.settings
    lifetime = timedelta(hours=settings.merchant_session_max_hours)
    try:
        with services.sessions.begin() as db:
            started = merchant_sessions.sign_in_with_link(
                db, token, now=utc_now(), lifetime=lifetime
            )
    except merchant_sessions.SignInLinkInvalid:
        return render_page("dashboard/sign_in_link.html", 404, store_name=None)
    logger.info("dashboard sign-in", extra={"shop_id": started.shop_id})
    session.pop(CSRF_KEY, None)  # a fresh form token for the new session
    response = redirect(url_for("dashboard.overview"), code=303)
    response.set_cookie(
        SESSION_COOKIE, started.token, max_age=int(lifetime.total_seconds()), path=COOKIE_PATH,
        secure=_secure(), httponly=True, samesite="Lax",
    )  # fmt: skip
    return response


@blueprint.post("/logout")
def sign_out() -> Response | tuple[str, int]:
    if not csrf_valid(request.form.get("csrf_token"), CSRF_KEY):
        return render_page("dashboard/problem.html", 400, problem="form_expired")
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with app_services().sessions.begin() as db:
            merchant_sessions.end_session(db, token, now=utc_now())
    session.pop(CSRF_KEY, None)
    response = redirect(url_for(".sign_in_form", signed_out=1), code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, secure=_secure(), httponly=True,
                           samesite="Lax")  # fmt: skip
    return response


def _form_page(
    address: str, problem: str | None, status: int, note: str | None = None
) -> tuple[str, int]:
    return render_page(
        "dashboard/sign_in.html", status, address=address, problem=problem, note=note,
        sign_in_csrf=csrf_token(SIGN_IN_CSRF_KEY),
    )  # fmt: skip


def _link_page(store_name: str | None, status: int, problem: str | None = None) -> tuple[str, int]:
    return render_page(
        "dashboard/sign_in_link.html", status, store_name=store_name, problem=problem,
        sign_in_csrf=csrf_token(SIGN_IN_CSRF_KEY),
    )  # fmt: skip


def _address(raw: str) -> tuple[str | None, str | None] | None:
    """(store domain, None) or (None, admin email) from what the merchant typed; None when it
    is neither a store address nor an email address."""
    if "@" in raw:
        email = normalize_email(raw)
        return None if email is None else (None, email)
    host = raw.lower().removeprefix("https://").rstrip("/")
    if valid_shop_domain(host):
        return host, None
    try:
        return checked_store_url(raw), None
    except StoreUrlError:
        return None


def _within_limits(shop_id: int) -> bool:
    """Count this request against the store's and the IP's hourly limits (own transaction)."""
    services = app_services()
    settings = services.settings
    hour = timedelta(hours=1)
    checks = [
        (Limit(scope="sign-in:shop", hits=settings.sign_in_limit_per_shop, window=hour), "all"),
        (Limit(scope="sign-in:ip", hits=settings.sign_in_limit_per_ip, window=hour),
         request.remote_addr or "unknown"),
    ]  # fmt: skip
    key = hmac.new(settings.secret_key.encode(), RATE_LIMIT_KEY_PURPOSE, hashlib.sha256).digest()
    with services.sessions.begin() as db:
        return count_hits(db, shop_id, checks, key=key, now=utc_now()).allowed


def _send_link(target: merchant_sessions.SignInTarget, now: datetime) -> None:
    services = app_services()
    base = services.settings.public_base_url.rstrip("/")
    with services.sessions.begin() as db:
        link = merchant_sessions.create_sign_in_link(db, target.shop_id, now=now)
        words = {"store_name": target.store_name, "minutes": LINK_MINUTES,
                 "link": f"{base}{url_for('.sign_in_page', token=link.token)}"}  # fmt: skip
        enqueue_message(
            db, shop_id=target.shop_id, kind="merchant_sign_in", recipient=target.email,
            dedup_key=f"merchant-sign-in:{link.id}",
            subject=render_template("dashboard/email/sign_in_subject.txt", **words).strip(),
            text=render_template("dashboard/email/sign_in.txt", **words), now=now,
        )  # fmt: skip
    logger.info("dashboard sign-in link queued", extra={"shop_id": target.shop_id})


def _secure() -> bool:
    return app_services().settings.public_base_url.startswith("https://") or request.is_secure
