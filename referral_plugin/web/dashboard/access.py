"""Who the merchant of a dashboard request is: a verified Shopify session token, or a signed-in
browser session. Nothing else binds a request to a shop; a shop parameter is never trusted.

Two ways in, chosen per platform:

- Shopify, embedded in Shopify admin. Shopify opens the app with `?id_token=<session token>`
  (a JWT signed with the app's client secret, valid for a minute). The first page is rendered
  for the shop that token names (verified by `connectors.shopify.session_token`, current or
  previous secret; the shop must be installed and active). Inside the iframe there are no
  cookies to rely on (browsers block third-party cookies), so the page loads App Bridge from
  Shopify's CDN, as Shopify requires, and `static/dashboard/dashboard.js` follows Shopify's
  pattern for server-rendered apps: every link and form inside the app is fetched with
  `Authorization: Bearer <fresh token from shopify.idToken()>` and the answer replaces the
  page. Those requests need no CSRF token: a browser never adds that header by itself, so the
  header is the proof the request comes from our page.
- WooCommerce (and Shopify outside production): a single-use link mailed to the store's admin
  email (`web/dashboard/sign_in.py`) starts a server-side session; the cookie holds a random
  token (only its hash is stored), is HttpOnly, SameSite=Lax, Secure over https, scoped to
  /admin, and every state-changing form carries a CSRF token. In production a Shopify shop is
  reached only from Shopify admin, as Shopify asks of embedded apps; in development and test
  the same emailed link opens a Shopify shop's dashboard in a plain browser tab, so the pages
  can be worked on outside the iframe without a second, weaker way in.

Pages answer with `Content-Security-Policy: frame-ancestors` set to the shop's admin when
embedded, and `'none'` otherwise (no clickjacking of approve buttons).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, g, redirect, request, url_for

from connectors.shopify.session_token import SessionTokenInvalid
from referral_plugin.app import AppServices, app_services
from referral_plugin.domain.events import Platform
from referral_plugin.errors import NotFound
from referral_plugin.models import Shop, ShopStatus
from referral_plugin.services.merchant_sessions import session_identity
from referral_plugin.services.shops import find_shop
from referral_plugin.settings import Settings
from referral_plugin.shopify_tokens import verify_app_session_token
from referral_plugin.web.csrf import csrf_valid
from referral_plugin.web.dashboard.render import CSRF_KEY, render_page

logger = logging.getLogger(__name__)

SESSION_COOKIE = "rp_dashboard"
COOKIE_PATH = "/admin"
SHOPIFY_ADMIN = "https://admin.shopify.com"


@dataclass(frozen=True, slots=True, kw_only=True)
class Merchant:
    """The signed-in merchant of this request."""

    shop_id: int
    shop_name: str
    platform: Platform
    domain: str
    actor: str  # for the audit log
    embedded: bool  # inside Shopify admin (session tokens), else a cookie session


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


def current_merchant() -> Merchant:
    """The merchant of this request (set by `require_merchant`)."""
    return g.merchant


def require_merchant() -> Response | tuple[str, int] | None:
    """Before every dashboard page: identify the merchant, or answer (redirect to sign-in,
    401 for a refused Shopify token, 400 for a form without its CSRF token)."""
    services = app_services()
    merchant = _embedded_merchant(services)
    if merchant is None:
        merchant = _session_merchant(services)
        if merchant is None:
            return redirect(url_for("dashboard_sign_in.sign_in_form"), code=303)
        if request.method == "POST" and not csrf_valid(request.form.get("csrf_token"), CSRF_KEY):
            return render_page("dashboard/problem.html", 400, problem="form_expired")
    g.merchant = merchant
    return None


def frame_ancestors(response: Response) -> Response:
    """After every dashboard answer: who may frame it, and never cache it."""
    merchant = g.get("merchant")
    if merchant is not None and merchant.embedded:
        ancestors = f"https://{merchant.domain} {SHOPIFY_ADMIN}"
    elif g.get("embedded_refused"):
        ancestors = SHOPIFY_ADMIN  # the refusal page must show inside Shopify admin
    else:
        ancestors = "'none'"
    response.headers["Content-Security-Policy"] = f"frame-ancestors {ancestors};"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


class EmbeddedRefused(Exception):
    """A Shopify session token came with the request and was not acceptable."""


def _embedded_merchant(services: AppServices) -> Merchant | None:
    token = _bearer(request.headers.get("Authorization", ""))
    if token is None and request.method == "GET":
        token = request.args.get("id_token") or None
    if token is None:
        return None
    try:
        verified = verify_app_session_token(services.settings, token)
    except SessionTokenInvalid:
        logger.info("dashboard: session token refused", extra={"path": request.path})
        raise EmbeddedRefused() from None
    with services.sessions.begin() as session:
        shop = find_shop(session, Platform.SHOPIFY, verified.shop)
        if shop is None or shop.status is not ShopStatus.ACTIVE:
            raise EmbeddedRefused()
        return _merchant(shop, actor=f"shopify-user:{verified.user_id}", embedded=True)


def _bearer(header: str) -> str | None:
    if not header.lower().startswith("bearer "):
        return None
    return header[len("bearer ") :].strip() or None


def _session_merchant(services: AppServices) -> Merchant | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    idle = timedelta(minutes=services.settings.merchant_session_idle_minutes)
    with services.sessions.begin() as session:
        identity = session_identity(session, token, now=utc_now(), idle=idle)
        if identity is None:
            return None
        shop = session.get(Shop, identity.shop_id)
        if shop is None or not session_allowed(services.settings, shop.platform):
            return None
        return _merchant(shop, actor=identity.actor, embedded=False)


def session_allowed(settings: Settings, platform: Platform) -> bool:
    """May a shop of `platform` use an emailed link and a cookie session (see the module)?"""
    return platform is not Platform.SHOPIFY or not settings.is_production


def _merchant(shop: Shop, *, actor: str, embedded: bool) -> Merchant:
    return Merchant(
        shop_id=shop.id, shop_name=shop.name or shop.domain, platform=shop.platform,
        domain=shop.domain, actor=actor, embedded=embedded,
    )  # fmt: skip


def guard(blueprint: Blueprint) -> None:
    """Make every page of `blueprint` need a merchant, answer with `frame_ancestors`, and
    answer an unknown id (including another shop's) with the 404 page."""
    blueprint.before_request(require_merchant)
    blueprint.after_request(frame_ancestors)
    blueprint.register_error_handler(EmbeddedRefused, _embedded_refused)
    blueprint.register_error_handler(NotFound, _not_found)


def _embedded_refused(exc: EmbeddedRefused) -> tuple[str, int]:
    g.embedded_refused = True
    return render_page("dashboard/problem.html", 401, problem="shopify_token")


def _not_found(exc: NotFound) -> tuple[str, int]:
    return render_page("dashboard/problem.html", 404, problem="not_found")
