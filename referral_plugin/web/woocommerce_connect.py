"""The WooCommerce key flow in the browser and its callback (`/wc-auth/v1/authorize`).

- `GET /woocommerce/connect`: the store-address form (CSRF token in the signed session cookie),
  and the outcome of this browser's last attempt.
- `POST /woocommerce/connect`: validate the address, record a one-time `user_id` for it
  (`services.connect_requests`), redirect to the store's authorize page.
- `POST /woocommerce/callback`: the store posts the new keys (JSON, unsigned). Exactly 200 only
  once the keys are verified, the webhooks exist and the store is saved
  (`woocommerce_connect.connect_store`); any other answer makes WooCommerce delete the key, so
  every failure is answered non-200 and recorded on the request for the pages above.
- `GET /woocommerce/return?user_id=..&success=0|1`: where the store sends the merchant back.

The callback must be https (WooCommerce refuses anything else), so with an http
PUBLIC_BASE_URL (development) the form says so and points to an https tunnel or the operator
command instead of sending the merchant to a store that would refuse.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState

from connectors.woocommerce.auth_flow import (
    SCOPE,
    KeyGrantError,
    approval_outcome,
    authorize_url,
    parse_key_grant,
)
from connectors.woocommerce.store_url import StoreUrlError, checked_store_url
from referral_plugin.app import AppServices, app_services
from referral_plugin.domain.events import Platform
from referral_plugin.errors import NotFound, ValidationError
from referral_plugin.services import connect_requests as requests_service
from referral_plugin.services.connect_requests import ConnectOutcome, RequestExpired, RequestUsed
from referral_plugin.web.csrf import csrf_token, csrf_valid, use_lax_session_cookie
from referral_plugin.woocommerce_connect import ConnectFailed, connect_store

logger = logging.getLogger(__name__)
blueprint = Blueprint("woocommerce_connect", __name__, url_prefix="/woocommerce")

APP_NAME = "Referral Program"
CSRF_KEY = "woocommerce_connect_csrf"
LAST_REQUEST_KEY = "woocommerce_connect_user_id"
WOO = Platform.WOOCOMMERCE


@blueprint.record_once
def _cookie_defaults(state: BlueprintSetupState) -> None:
    """The session cookie carries the CSRF token: never sent cross-site on a POST."""
    use_lax_session_cookie(state.app)


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


@blueprint.get("/connect")
def form() -> tuple[str, int]:
    return _form_page(store_url="", error=None, status=200)


@blueprint.post("/connect")
def start() -> Response | tuple[str, int]:
    raw = request.form.get("store_url", "")
    if not csrf_valid(request.form.get("csrf_token"), CSRF_KEY):
        return _form_page(raw, "The form expired: submit it again.", 400)
    services = app_services()
    if not _callback_url(services).startswith("https://"):
        return _form_page(raw, "Connecting is not available on this server (see above).", 503)
    try:
        store_url = checked_store_url(raw)
    except StoreUrlError as exc:
        return _form_page(raw, _sentence(str(exc)), 422)
    with services.sessions.begin() as db:
        token = requests_service.start_connect_request(
            db, platform=WOO, store_url=store_url, now=utc_now()
        )
    session[LAST_REQUEST_KEY] = token
    target = authorize_url(
        store_url,
        app_name=APP_NAME,
        user_id=token,
        return_url=_public_url(services, "woocommerce_connect.finished"),
        callback_url=_callback_url(services),
    )
    logger.info("woocommerce connect started", extra={"store": store_url})
    return redirect(target, code=303)


@blueprint.post("/callback")
def callback() -> tuple[Response, int]:
    try:
        grant = parse_key_grant(json.loads(request.get_data() or b"null"))
    except ValueError as exc:  # KeyGrantError, or a body that is not JSON
        field = exc.field if isinstance(exc, KeyGrantError) else "body"
        message = exc.message if isinstance(exc, KeyGrantError) else "must be JSON"
        return _json(400, "invalid_key_grant", f"{field} {message}", field=field)
    services = app_services()
    try:
        with services.sessions.begin() as db:
            request_id, store_url = requests_service.claim_connect_request(
                db, grant.user_id, platform=WOO, now=utc_now()
            )
    except NotFound:
        return _json(404, "unknown_request", "no connect request has this user_id")
    except RequestUsed as exc:
        return _json(409, "request_used", str(exc))
    except RequestExpired as exc:
        return _json(410, "request_expired", str(exc))
    if grant.permissions != SCOPE:
        problem = f"the key was created with {grant.permissions} access; approve read_write access"
        return _failed(services, request_id, 422, "wrong_permissions", problem)
    try:
        connected = connect_store(
            services,
            store_url=store_url,
            consumer_key=grant.consumer_key,
            consumer_secret=grant.consumer_secret,
            now=utc_now(),
        )
    except ConnectFailed as exc:
        status = 502 if exc.retryable else 422
        return _failed(services, request_id, status, "store_not_connected", _advice(exc))
    except ValidationError as exc:
        return _failed(services, request_id, 422, "store_not_connected", str(exc))
    with services.sessions.begin() as db:
        requests_service.finish_connect_request(db, request_id, shop_id=connected.shop_id)
    return _json(200, "connected", "the store is connected")


@blueprint.get("/return")
def finished() -> tuple[str, int]:
    token = request.args.get("user_id", "").strip()
    if not token:
        return _outcome_page(None, "This link is incomplete: start again.", 400)
    services = app_services()
    with services.sessions.begin() as db:
        if approval_outcome(request.args.get("success")) is False:
            requests_service.decline_connect_request(db, token, platform=WOO)
        outcome = requests_service.connect_outcome(db, token, platform=WOO, now=utc_now())
    if outcome is None:
        return _outcome_page(None, "This link is unknown or has expired: start again.", 404)
    return _outcome_page(outcome, None, 200)


# --- helpers --------------------------------------------------------------------------------


def _form_page(store_url: str, error: str | None, status: int) -> tuple[str, int]:
    services = app_services()
    callback_url = _callback_url(services)
    return (
        render_template(
            "woocommerce/connect.html",
            csrf_token=csrf_token(CSRF_KEY),
            store_url=store_url,
            error=error,
            callback_ok=callback_url.startswith("https://"),
            public_base_url=services.settings.public_base_url,
            last=_last_outcome(services),
        ),
        status,
    )


def _outcome_page(outcome: ConnectOutcome | None, problem: str | None, status: int):
    return render_template("woocommerce/outcome.html", last=outcome, problem=problem), status


def _last_outcome(services: AppServices) -> ConnectOutcome | None:
    """This browser's last attempt: WooCommerce shows its own error page when our callback
    fails and never comes back, so the merchant learns why here."""
    token = session.get(LAST_REQUEST_KEY)
    if not isinstance(token, str):
        return None
    with services.sessions.begin() as db:
        return requests_service.connect_outcome(db, token, platform=WOO, now=utc_now())


def _callback_url(services: AppServices) -> str:
    return _public_url(services, "woocommerce_connect.callback")


def _public_url(services: AppServices, endpoint: str) -> str:
    """Our address as the store and the merchant's browser see it (PUBLIC_BASE_URL), not the
    address this request reached behind a proxy."""
    return services.settings.public_base_url.rstrip("/") + url_for(endpoint)


def _failed(
    services: AppServices, request_id: int, status: int, error: str, problem: str
) -> tuple[Response, int]:
    """Record why on the request (for the merchant's pages), answer non-200 (WooCommerce then
    deletes the key)."""
    with services.sessions.begin() as db:
        requests_service.finish_connect_request(db, request_id, error=problem)
    logger.warning("woocommerce connect failed", extra={"request_id": request_id, "error": error})
    return _json(status, error, problem)


def _advice(exc: ConnectFailed) -> str:
    if exc.status in (401, 403):
        return (
            f"{exc.message}. Approve with an administrator or shop manager account, and check "
            "that your host passes the Authorization header to WordPress"
        )
    if exc.retryable:
        return f"{exc.message}. Your store did not answer in time: try again in a few minutes"
    return exc.message


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _json(status: int, error: str, message: str, **extra: Any) -> tuple[Response, int]:
    body: dict[str, Any] = {"status" if status == 200 else "error": error, "message": message}
    if "field" in extra:
        body["errors"] = [{"field": extra["field"], "message": message}]
    return jsonify(body), status
