"""The dashboard's advocate pages: the list (referral counts and balances), one advocate with
their referrals, rewards and ledger, and the manual balance adjustment (a ledger entry and an
audit entry naming the merchant, `services.adjustments`)."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for

from referral_plugin.app import app_services
from referral_plugin.errors import ValidationError
from referral_plugin.services import adjustments
from referral_plugin.services import dashboard_lists as lists
from referral_plugin.services import dashboard_totals as totals
from referral_plugin.web.dashboard.access import current_merchant, guard, utc_now
from referral_plugin.web.dashboard.render import (
    PAGE_SIZE,
    id_arg,
    offset_of,
    page_number,
    render_page,
)

blueprint = Blueprint("dashboard_advocates", __name__, url_prefix="/admin/advocates")
guard(blueprint)

SEARCH_MAX = 100


@blueprint.get("")
def advocates() -> tuple[str, int]:
    shop_id = current_merchant().shop_id
    program_id, page = id_arg("program"), page_number()
    search = request.args.get("q", "").strip()[:SEARCH_MAX]
    with app_services().sessions.begin() as session:
        found = lists.list_advocates(
            session, shop_id, program_id=program_id, email_contains=search or None,
            limit=PAGE_SIZE, offset=offset_of(page),
        )  # fmt: skip
        programs = totals.program_choices(session, shop_id)
    return render_page(
        "dashboard/advocates.html", found=found, page=page, programs=programs,
        filters={"program": program_id, "q": search},
    )  # fmt: skip


@blueprint.get("/<int:advocate_id>")
def advocate(advocate_id: int) -> tuple[str, int]:
    adjusted = request.args.get("adjusted") is not None
    return _advocate_page(advocate_id, 200, adjusted=adjusted)


@blueprint.post("/<int:advocate_id>/adjustments")
def adjust(advocate_id: int) -> Response | tuple[str, int]:
    merchant = current_merchant()
    values = {name: request.form.get(name, "").strip() for name in ("amount", "reason")}
    try:
        with app_services().sessions.begin() as session:
            adjustments.adjust_balance(
                session, merchant.shop_id, advocate_id,
                amount=adjustments.parse_amount(values["amount"]), reason=values["reason"],
                actor=merchant.actor, now=utc_now(),
            )  # fmt: skip
    except ValidationError as exc:
        errors = {error.field: error.message for error in exc.errors}
        return _advocate_page(advocate_id, 422, values=values, errors=errors)
    target = url_for(".advocate", advocate_id=advocate_id, adjusted=1)
    return redirect(f"{target}#adjust", code=303)


def _advocate_page(advocate_id: int, status: int, **context: object) -> tuple[str, int]:
    shop_id = current_merchant().shop_id
    with app_services().sessions.begin() as session:
        row = lists.get_advocate_row(session, shop_id, advocate_id)  # NotFound: the 404 page
        referrals = lists.list_referrals(session, shop_id, advocate_id=advocate_id, limit=50)
        rewards = lists.list_rewards(session, shop_id, advocate_id=advocate_id, limit=50)
        ledger = lists.advocate_ledger(session, shop_id, advocate_id)
    return render_page(
        "dashboard/advocate.html", status, advocate=row, referrals=referrals, rewards=rewards,
        ledger=ledger, **{"values": {}, "errors": {}, **context},
    )  # fmt: skip
