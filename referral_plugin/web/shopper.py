"""The advocate's pages: join a program, see the code and share it (`/p/<public id>/...`).

- `GET /p/<public_id>/join`: the form (email, optional first name; CSRF token).
- `POST /p/<public_id>/join`: CSRF check, rate limit per keyed IP hash and per email (429
  with when to try again), enroll (idempotent: `services.advocates.enroll_advocate`), then
  303 to the share page; a shopper the program's A/B test holds out gets no code and a
  polite page saying the program is not open to them now. A new and an already enrolled
  email get the same answer, so the page tells nobody whether an email was known.
- `GET /p/<public_id>/share/<token>`: the code and the link with one-tap sharing. It first
  pushes the code into the store (`friend_code_jobs.push_advocate_code`) so the code works
  before it is shown; when the store cannot be reached now it says the code will work in a
  few minutes (the worker keeps pushing it). It marks the browser as the advocate's
  (`friend_pages.remember_own_code`), so their own link gives them no friend code.
The status page is `web/shopper_status.py`; shared page helpers are in `web/shopper_pages.py`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime, timedelta

from flask import Blueprint, Response, make_response, redirect, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext

from referral_plugin.app import app_services
from referral_plugin.domain.emails import normalize_email
from referral_plugin.domain.experiments import EnrollmentSource
from referral_plugin.errors import NotFound, ValidationError
from referral_plugin.friend_code_jobs import FriendCodeState, push_advocate_code
from referral_plugin.i18n import current_language
from referral_plugin.services import shopper_pages as pages_service
from referral_plugin.services.advocates import enroll_advocate
from referral_plugin.services.rate_limits import Limit, count_hits
from referral_plugin.web import shopper_pages as page
from referral_plugin.web.csrf import csrf_token, csrf_valid, use_lax_session_cookie
from referral_plugin.web.friend_pages import remember_own_code
from referral_plugin.web.shopper_links import AdvocateRef, read_share_token, share_token

logger = logging.getLogger(__name__)
blueprint = Blueprint("shopper", __name__, url_prefix="/p")

CSRF_KEY = "shopper_join_csrf"
RATE_LIMIT_KEY_PURPOSE = b"referral-plugin/rate-limits/v1"
FIRST_NAME_MAX = 100


@blueprint.record_once
def _cookie_defaults(state: BlueprintSetupState) -> None:
    use_lax_session_cookie(state.app)


page.register_not_found(blueprint)


@blueprint.get("/<public_id>/join")
def join_form(public_id: str) -> tuple[str, int]:
    program_page = page.load_program_page(public_id)
    return _join_page(program_page, {}, {}, 200)


@blueprint.post("/<public_id>/join")
def join(public_id: str) -> Response | tuple[str, int]:
    program_page = page.load_program_page(public_id)
    values = {name: request.form.get(name, "").strip() for name in ("email", "first_name")}
    if not csrf_valid(request.form.get("csrf_token"), CSRF_KEY):
        problem = gettext("The form expired. Please send it again.")
        return _join_page(program_page, values, {"form": problem}, 400)
    retry_at = _rate_limited(program_page.shop_id, values["email"])
    if retry_at is not None:
        return page.too_many_requests(program_page, retry_at)
    errors = _form_errors(values)
    if errors:
        return _join_page(program_page, values, errors, 422)
    services = app_services()
    try:
        with services.sessions.begin() as session:
            enrolled = enroll_advocate(
                session, program_page.shop_id, program_page.program.id, email=values["email"],
                first_name=values["first_name"] or None, language=current_language(),
                now=page.utc_now(), source=EnrollmentSource.JOINED,
            )  # fmt: skip
    except ValidationError:  # the service's stricter email check
        return _join_page(program_page, values, {"email": _bad_email()}, 422)
    logger.info("advocate joined", extra={"shop_id": program_page.shop_id})
    if not enrolled.code:  # held out by the program's A/B test
        return page.held_out(program_page)
    token = share_token(services.settings.secret_key, AdvocateRef(public_id, enrolled.code))
    return redirect(url_for("shopper.share", public_id=public_id, token=token), code=303)


@blueprint.get("/<public_id>/share/<token>")
def share(public_id: str, token: str) -> Response | tuple[str, int]:
    program_page = page.load_program_page(public_id)
    services = app_services()
    ref = read_share_token(services.settings.secret_key, token)
    if ref is None or ref.public_id != public_id:
        return page.link_expired(program_page, status_link=False)
    try:
        with services.sessions.begin() as session:
            advocate = pages_service.find_advocate_code(
                session, program_page.shop_id, program_page.program.id, ref.code
            )
    except NotFound:
        return page.link_expired(program_page, status_link=False)
    program_page = pages_service.seen_by(program_page, advocate.variant)
    state = push_advocate_code(
        services, program_page.shop_id, advocate.advocate_id, now=page.utc_now()
    )
    response = make_response(page.render(
        "shopper/share.html", program_page, 200,
        code=advocate.code, first_name=advocate.first_name,
        links=page.share_links(program_page, advocate.code),
        code_pending=state in (FriendCodeState.PENDING, FriendCodeState.FAILED),
    ))  # fmt: skip
    remember_own_code(response, advocate.code)  # their own link gives them no friend code
    return response


def _join_page(
    program_page: pages_service.ProgramPage,
    values: dict[str, str],
    errors: dict[str, str],
    status: int,
) -> tuple[str, int]:
    return page.render(
        "shopper/join.html", program_page, status,
        values=values, errors=errors, csrf_token=csrf_token(CSRF_KEY),
    )  # fmt: skip


def _form_errors(values: dict[str, str]) -> dict[str, str]:
    errors = {}
    if normalize_email(values["email"]) is None:
        errors["email"] = _bad_email()
    if len(values["first_name"]) > FIRST_NAME_MAX:
        errors["first_name"] = gettext(
            "Please use at most %(count)s characters.", count=FIRST_NAME_MAX
        )
    return errors


def _bad_email() -> str:
    return gettext("Please enter an email address like name@example.com.")


def _rate_limited(shop_id: int, email: str) -> datetime | None:
    """Count this join against the IP's and the email's limits (in their own transaction, so
    refused and failed attempts count too); the time to try again when over a limit."""
    services = app_services()
    settings = services.settings
    hour = timedelta(hours=1)
    checks = [(Limit(scope="join:ip", hits=settings.join_limit_per_ip, window=hour),
               request.remote_addr or "unknown")]  # fmt: skip
    normalized = normalize_email(email)
    if normalized is not None:
        checks.append((Limit(scope="join:email", hits=settings.join_limit_per_email,
                             window=hour), normalized))  # fmt: skip
    key = hmac.new(settings.secret_key.encode(), RATE_LIMIT_KEY_PURPOSE, hashlib.sha256).digest()
    with services.sessions.begin() as session:
        decision = count_hits(session, shop_id, checks, key=key, now=page.utc_now())
    return decision.retry_at
