"""Shopify install: the App URL, the OAuth callback and the embedded token exchange.

- `GET /shopify/install?shop=...` (the App URL). Shopify's signed query is verified when it
  carries `hmac`. With an `id_token` (an embedded app opened in Shopify admin, Shopify-managed
  install) the session token is exchanged for an expiring offline token; otherwise the
  merchant is sent to `https://{shop}/admin/oauth/authorize` (authorization code grant) with a
  state nonce kept in a signed, short-lived, HttpOnly cookie scoped to the callback.
- `GET /shopify/callback`: hmac, timestamp, shop and state checked, the code exchanged.
- `POST /shopify/token-exchange` with `Authorization: Bearer <session token>`: the embedded
  app's frontend installs (or re-installs) the shop; answers JSON.

Each install reads the shop's currency, name and email, then seals the whole token response
on the shop (`shopify_tokens.save_installation`). Every failure answers a page (or JSON) that
says what went wrong and what to do: 400 for a bad or stale request, 401 for a bad session
token, 502 when Shopify cannot be reached, 503 when the app is not configured; never a 500.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    jsonify,
    make_response,
    redirect,
    render_template_string,
    request,
)
from itsdangerous import BadSignature, URLSafeTimedSerializer

from connectors.shopify.oauth import (
    TokenEndpoint,
    TokenGrant,
    TokenRequestFailed,
    authorize_url,
    shop_origin,
    signed_query_problem,
)
from connectors.shopify.session_token import SessionTokenInvalid, verify_session_token
from connectors.shopify.shop_domain import valid_shop_domain
from referral_plugin.app import AppServices, app_services
from referral_plugin.domain.events import Platform
from referral_plugin.domain.store import StoreClientError
from referral_plugin.models import ShopStatus
from referral_plugin.services.shops import find_shop, shop_credentials
from referral_plugin.shopify_tokens import read_shop_details, save_installation, token_endpoint

logger = logging.getLogger(__name__)
blueprint = Blueprint("shopify_install", __name__)

STATE_COOKIE = "rp_shopify_state"
STATE_SALT = "referral-plugin/shopify-oauth-state/v1"
# Long enough to read the grant screen; a stolen cookie is useless after it (and is bound to
# one shop and one nonce). The reference library uses 60 s.
STATE_MAX_AGE = 300
CALLBACK_PATH = "/shopify/callback"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto;
padding: 0 1rem; line-height: 1.5; color: #1d2327; }</style></head>
<body><main><h1>{{ title }}</h1><p>{{ message }}</p>
{% if next_step %}<p>{{ next_step }}</p>{% endif %}</main></body></html>"""

Obtain = Callable[[TokenEndpoint, str, datetime], TokenGrant]


class InstallProblem(Exception):
    """A request that cannot install the shop: the HTTP status and what to tell the person."""

    def __init__(self, status: int, message: str, next_step: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.next_step = status, message, next_step


@blueprint.errorhandler(InstallProblem)
def _problem(problem: InstallProblem) -> Response:
    if request.path == "/shopify/token-exchange":
        body = {"error": _error_code(problem.status), "message": problem.message}
        return make_response(jsonify(body), problem.status)
    return _page(
        "The app could not be installed", problem.message, problem.next_step, problem.status
    )


@blueprint.get("/shopify/install")
def install() -> Response:
    services = _configured_services()
    shop = _shop_param()
    signed = "hmac" in request.args
    if signed:
        _require_signed_query(services)
    id_token = request.args.get("id_token")
    if id_token:
        if not signed:
            raise InstallProblem(400, "An embedded app request must be signed by Shopify.")
        _exchange_session_token(services, id_token, expected_shop=shop)
        return _installed_page(shop)
    if signed and _installed(services, shop):
        return _installed_page(shop)
    return _start_authorization(services, shop)


@blueprint.get(CALLBACK_PATH)
def callback() -> Response:
    services = _configured_services()
    shop = _shop_param()
    _require_signed_query(services)
    _require_state(services, shop)
    code = request.args.get("code", "")
    if not code:
        raise InstallProblem(400, "Shopify's answer has no authorization code.", _AGAIN)
    _install(
        services, shop, lambda endpoint, origin, now: endpoint.exchange_code(origin, code, now=now)
    )
    response = _installed_page(shop)
    response.delete_cookie(STATE_COOKIE, path=CALLBACK_PATH)
    return response


@blueprint.post("/shopify/token-exchange")
def token_exchange() -> Response:
    services = _configured_services()
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer ") or not header[7:].strip():
        raise InstallProblem(
            401, "Send the App Bridge session token as `Authorization: Bearer <token>`."
        )
    shop = _exchange_session_token(services, header[7:].strip(), expected_shop=None)
    return make_response(jsonify({"shop": shop, "installed": True}), 200)


def _configured_services() -> AppServices:
    services = app_services()
    settings = services.settings
    if not settings.shopify_api_key or not settings.shopify_api_secret:
        raise InstallProblem(
            503,
            "The app is not configured for Shopify yet.",
            "Set SHOPIFY_API_KEY and SHOPIFY_API_SECRET (the app's client id and secret).",
        )
    return services


def _shop_param() -> str:
    shop = (request.args.get("shop") or "").strip().lower()
    if not valid_shop_domain(shop):
        raise InstallProblem(
            400,
            "The shop parameter must be your store's your-store.myshopify.com domain.",
            "Start the install from the Shopify App Store or your Shopify admin.",
        )
    return shop


def _secrets(services: AppServices) -> tuple[str, ...]:
    settings = services.settings
    return tuple(
        s for s in (settings.shopify_api_secret, settings.shopify_previous_api_secret) if s
    )


def _require_signed_query(services: AppServices) -> None:
    pairs = list(request.args.items(multi=True))
    problem = signed_query_problem(pairs, _secrets(services), now=datetime.now(tz=UTC))
    if problem is not None:
        logger.info("shopify signed query refused", extra={"path": request.path, "reason": problem})
        raise InstallProblem(
            400, f"This request is not a valid one from Shopify: {problem}.", _AGAIN
        )


def _serializer(services: AppServices) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(services.settings.secret_key, salt=STATE_SALT)


def _start_authorization(services: AppServices, shop: str) -> Response:
    settings = services.settings
    nonce = secrets.token_hex(32)
    target = authorize_url(
        shop_origin(settings.shopify_shop_origin, shop),
        client_id=settings.shopify_api_key or "",
        scopes=settings.shopify_scopes,
        redirect_uri=settings.public_base_url + CALLBACK_PATH,
        state=nonce,
    )
    response = redirect(target, code=302)
    response.set_cookie(
        STATE_COOKIE,
        _serializer(services).dumps({"nonce": nonce, "shop": shop}),
        max_age=STATE_MAX_AGE,
        path=CALLBACK_PATH,
        httponly=True,
        secure=settings.public_base_url.startswith("https://"),
        samesite="Lax",
    )
    return response


def _require_state(services: AppServices, shop: str) -> None:
    cookie = request.cookies.get(STATE_COOKIE)
    if not cookie:
        raise InstallProblem(400, "The install started too long ago or in another browser.", _AGAIN)
    try:
        state = _serializer(services).loads(cookie, max_age=STATE_MAX_AGE)
    except BadSignature:  # also SignatureExpired
        raise InstallProblem(
            400, "The install took too long or its cookie was altered.", _AGAIN
        ) from None
    given = request.args.get("state", "")
    nonce = str(state.get("nonce", "")) if isinstance(state, dict) else ""
    if not nonce or not secrets.compare_digest(nonce.encode(), given.encode()):
        raise InstallProblem(400, "The install's state does not match this browser's.", _AGAIN)
    if state.get("shop") != shop:
        raise InstallProblem(400, "The install was started for another shop.", _AGAIN)


def _exchange_session_token(services: AppServices, token: str, *, expected_shop: str | None) -> str:
    settings = services.settings
    try:
        verified = verify_session_token(
            token, api_key=settings.shopify_api_key or "", secrets=_secrets(services)
        )
    except SessionTokenInvalid as exc:
        raise InstallProblem(
            401, f"The Shopify session token is not valid: {exc}.", _REOPEN
        ) from None
    if expected_shop is not None and verified.shop != expected_shop:
        raise InstallProblem(401, "The session token belongs to another shop.", _REOPEN)
    if not _installed(services, verified.shop):
        _install(
            services,
            verified.shop,
            lambda endpoint, origin, now: endpoint.exchange_session_token(origin, token, now=now),
        )
    return verified.shop


def _install(services: AppServices, shop: str, obtain: Obtain) -> None:
    """Obtain a grant, read the shop's details, save; InstallProblem on any failure."""
    settings = services.settings
    now = datetime.now(tz=UTC)
    try:
        grant = obtain(
            token_endpoint(settings), shop_origin(settings.shopify_shop_origin, shop), now
        )
    except TokenRequestFailed as failure:
        logger.warning(
            "shopify token request failed",
            extra={"shop": shop, "status": failure.status, "error_code": failure.error},
        )
        if failure.retryable or failure.status is None:
            raise InstallProblem(502, "Shopify did not answer the token request.", _AGAIN) from None
        raise InstallProblem(
            400, f"Shopify refused the token request ({failure.error}).", _AGAIN
        ) from None
    try:
        details = read_shop_details(settings, shop, grant.access_token)
    except StoreClientError as error:
        logger.warning("shopify shop details failed", extra={"shop": shop, "status": error.status})
        raise InstallProblem(
            502, "Shopify did not answer when we read the shop's details.", _AGAIN
        ) from None
    with services.sessions.begin() as session:
        save_installation(session, services, shop=shop, grant=grant, details=details, now=now)


def _installed(services: AppServices, shop: str) -> bool:
    """Installed, active, with a usable token covering the configured scopes."""
    with services.sessions.begin() as session:
        found = find_shop(session, Platform.SHOPIFY, shop)
        if found is None or found.status is not ShopStatus.ACTIVE:
            return False
        try:
            credentials = shop_credentials(found, services.box)
        except ValueError:
            return False
    if not credentials.get("access_token") or credentials.get("revoked_at"):
        return False
    return scopes_cover(credentials.get("scope", ""), services.settings.shopify_scopes)


def scopes_cover(granted: str, wanted: str) -> bool:
    """Every wanted scope is granted (a `write_x` grant includes `read_x`)."""
    have = {scope.strip() for scope in granted.split(",") if scope.strip()}
    have |= {"read_" + scope.removeprefix("write_") for scope in have if scope.startswith("write_")}
    return all(scope in have for scope in wanted.split(",") if scope)


def _installed_page(shop: str) -> Response:
    return _page(
        "Referral program installed",
        f"The app is installed on {shop}. Orders with referral codes now flow in.",
        "Set up your referral program from the app's page in your Shopify admin.",
        200,
    )


def _page(title: str, message: str, next_step: str, status: int) -> Response:
    html = render_template_string(PAGE, title=title, message=message, next_step=next_step)
    response = make_response(html, status)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    return response


def _error_code(status: int) -> str:
    return {400: "bad_request", 401: "unauthorized", 502: "bad_gateway"}.get(status, "unavailable")


_AGAIN = "Start the install again from your Shopify admin (Apps) or the Shopify App Store."
_REOPEN = "Reload the app from your Shopify admin."
