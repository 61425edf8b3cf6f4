"""The dashboard's program pages: the list (offer in words, advocates, referrals, pause and
resume), the guided setup of a new program and the same form for editing one, and the live
preview the form fetches as the merchant types.

Every change goes through `services.programs`, as the admin API's do (the same validation; an
audit entry naming the merchant). An invalid form comes back with 422, the values kept and
each of the codec's messages at its input (`program_values.error_fields`); the preview
answers 422 with the same messages. The preview validates with `services.programs.
draft_program` and renders the shopper templates (`program_preview`); it writes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from connectors.registry import ISSUED_REWARD_KINDS
from referral_plugin.app import app_services
from referral_plugin.domain.program_codec import program_to_dict
from referral_plugin.domain.programs import STORE_ISSUED_KINDS, Program
from referral_plugin.errors import NotFound, ValidationError
from referral_plugin.services import dashboard_totals as totals
from referral_plugin.services import programs as service
from referral_plugin.web.dashboard import program_values as shown
from referral_plugin.web.dashboard.access import current_merchant, guard, utc_now
from referral_plugin.web.dashboard.program_form import ADVOCATE_KINDS, PARTS, REWARD_INPUTS
from referral_plugin.web.dashboard.program_form import program_data as form_data
from referral_plugin.web.dashboard.program_preview import (
    Preview,
    offer_in_words,
    preview,
    reward_words,
)
from referral_plugin.web.dashboard.render import format_money, id_arg, render_page

blueprint = Blueprint("dashboard_programs", __name__, url_prefix="/admin/programs")
guard(blueprint)
PREVIEW_PUBLIC_ID = "preview"  # the sample pages post nowhere, so no real public id is needed
MAX_ID = 2**63 - 1  # BIGINT: a larger id names nothing, and must not reach PostgreSQL


@blueprint.before_request
def _ids_in_range() -> None:
    """An id past BIGINT answers the 404 page like any unknown id (after the sign-in check)."""
    program_id = (request.view_args or {}).get("program_id")
    if isinstance(program_id, int) and program_id > MAX_ID:
        raise NotFound("program", program_id)


@blueprint.get("")
def programs() -> tuple[str, int]:
    """The programs; a shop without any gets the setup form right here (not a redirect, which
    would lose the session token of a page opened inside Shopify admin)."""
    merchant = current_merchant()
    with app_services().sessions.begin() as session:
        found = service.list_programs(session, merchant.shop_id)
        counts = totals.counts_by_program(session, merchant.shop_id)
        join_ids = service.public_ids(session, merchant.shop_id, [p.id for p in found])
    if not found:
        return new_program()
    offers = {program.id: offer_in_words(program, merchant.shop_name) for program in found}
    return render_page(
        "dashboard/programs.html", found=found, counts=counts, offers=offers,
        join_base=app_services().settings.public_base_url.rstrip("/"), join_ids=join_ids,
        created=id_arg("created"), saved=id_arg("saved"),
    )  # fmt: skip


@blueprint.get("/new")
def new_program() -> tuple[str, int]:
    with app_services().sessions.begin() as session:
        currency = service.shop_currency(session, current_merchant().shop_id)
    current = shown.default_program(currency)
    return _form_page(None, shown.state_of_program(current, new=True), current, {}, 200)


@blueprint.post("/new")
def create_program() -> Response | tuple[str, int]:
    merchant = current_merchant()
    draft = form_data(request.form, {})
    try:
        with app_services().sessions.begin() as session:
            program = service.create_program(
                session, merchant.shop_id, draft.data, now=utc_now(), actor=merchant.actor
            )
    except ValidationError as invalid:
        errors = shown.error_fields(invalid.errors, draft)
        return _form_page(None, shown.state_of_form(request.form), {}, errors, 422)
    return redirect(url_for(".programs", created=program.id), code=303)


@blueprint.get("/<int:program_id>/edit")
def edit_program(program_id: int) -> tuple[str, int]:
    with app_services().sessions.begin() as session:
        current = _stored(session, program_id)
    return _form_page(program_id, shown.state_of_program(current, new=False), current, {}, 200)


@blueprint.post("/<int:program_id>/edit")
def update_program(program_id: int) -> Response | tuple[str, int]:
    merchant = current_merchant()
    try:
        with app_services().sessions.begin() as session:
            current = _stored(session, program_id)
            draft = form_data(request.form, current)
            service.update_program(
                session, merchant.shop_id, program_id, draft.data, now=utc_now(),
                actor=merchant.actor,
            )  # fmt: skip
    except ValidationError as invalid:
        errors = shown.error_fields(invalid.errors, draft)
        return _form_page(program_id, shown.state_of_form(request.form), current, errors, 422)
    return redirect(url_for(".programs", saved=program_id), code=303)


@blueprint.post("/<int:program_id>/<any(pause, resume):action>")
def pause_or_resume(program_id: int, action: str) -> Response:
    merchant = current_merchant()
    with app_services().sessions.begin() as session:
        service.update_program(
            session, merchant.shop_id, program_id, {"active": action == "resume"},
            now=utc_now(), actor=merchant.actor,
        )  # fmt: skip
    return redirect(url_for(".programs", saved=program_id), code=303)


@blueprint.post("/preview")
@blueprint.post("/<int:program_id>/preview")
def preview_draft(program_id: int | None = None) -> tuple[Response, int]:
    """JSON: the pages for the form's draft, or the errors by input (422). Writes nothing."""
    merchant = current_merchant()
    with app_services().sessions.begin() as session:
        current = {} if program_id is None else _stored(session, program_id)
        draft = form_data(request.form, current)
        try:
            program = service.draft_program(
                session, merchant.shop_id, draft.data, program_id=program_id
            )
        except ValidationError as invalid:
            errors = shown.error_fields(invalid.errors, draft)
            listed = render_template("dashboard/_preview_errors.html", errors=errors)
            return jsonify(
                {"valid": False, "errors": _error_list(errors), "errors_html": listed}
            ), 422
    return jsonify({"valid": True, **_preview_answer(program)}), 200


def _preview_answer(program: Program) -> dict[str, Any]:
    pages = preview(program, current_merchant(), public_id=PREVIEW_PUBLIC_ID, now=utc_now())
    note = render_template("dashboard/_friend_note.html", preview=pages)
    summary = render_template(
        "dashboard/_program_summary.html", money=format_money, **summary_helpers(pages)
    )
    return {
        "offer": pages.offer, "advocate_html": pages.advocate_html,
        "friend_html": pages.friend_html, "friend_note": note.strip(),
        "summary_html": summary.strip(),
    }  # fmt: skip


def summary_helpers(pages: Preview | None) -> dict[str, Any]:
    """What `dashboard/_program_summary.html` (and the reward choices) need besides `money`
    (every page has it): the reward kinds the merchant's store cannot issue among them."""
    issued = ISSUED_REWARD_KINDS.get(current_merchant().platform, frozenset())
    return {
        "program": None if pages is None else pages.program, "reward_words": reward_words,
        "one_second": timedelta(seconds=1), "unavailable": STORE_ISSUED_KINDS - issued,
    }  # fmt: skip


def _error_list(errors: dict[str, list[str]]) -> list[dict[str, str]]:
    return [
        {"field": field, "message": message}
        for field, messages in errors.items()
        for message in messages
    ]


def _stored(session: Session, program_id: int) -> dict[str, Any]:
    """The merchant's program as JSON; NotFound (the 404 page) for another shop's."""
    return program_to_dict(service.get_program(session, current_merchant().shop_id, program_id))


def _form_page(
    program_id: int | None,
    state: shown.FormState,
    current: dict[str, Any],
    errors: dict[str, list[str]],
    status: int,
) -> tuple[str, int]:
    """The setup form; its first preview comes with the page (it works without script)."""
    shop_id = current_merchant().shop_id
    with app_services().sessions.begin() as session:
        counts = totals.counts_by_program(session, shop_id).get(program_id or 0)
        initial = None if errors else _first_preview(session, program_id, state, current)
        currency = current.get("currency") or service.shop_currency(session, shop_id)
    return render_page(
        "dashboard/program_form.html", status, program_id=program_id, state=state,
        values=state.values, errors=errors, currency=currency, parts=PARTS,
        advocate_kinds=ADVOCATE_KINDS, reward_inputs=REWARD_INPUTS, initial=initial,
        referrals=0 if counts is None else counts.referrals, active=current.get("active", True),
        **summary_helpers(initial),
    )  # fmt: skip


def _first_preview(
    session: Session, program_id: int | None, state: shown.FormState, current: dict[str, Any]
) -> Preview | None:
    draft = form_data(state.values, current)
    try:
        program = service.draft_program(
            session, current_merchant().shop_id, draft.data, program_id=program_id
        )
    except ValidationError:
        return None
    return preview(program, current_merchant(), public_id=PREVIEW_PUBLIC_ID, now=utc_now())
