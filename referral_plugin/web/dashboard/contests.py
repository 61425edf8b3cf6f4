"""The dashboard's contest pages: the shop's contests, and one contest's live standings (names
and emails, for the merchant), its winner draws and the draw itself, each draw verifiable.

The same services as the API (`services.contests`, `services.contest_draws`) with the merchant
as the actor of a draw. A draw is only possible once the contest has ended; every draw is
recorded and listed (drawing again never hides an earlier one). Invalid input answers 422 at
its field; a draw the contest's state refuses (not ended, no entries) answers 409 with why.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, request, url_for

from referral_plugin.app import app_services
from referral_plugin.domain.programs import ProgramKind
from referral_plugin.errors import Conflict, ValidationError
from referral_plugin.services import contest_draws, contests
from referral_plugin.services.programs import list_programs
from referral_plugin.web.dashboard.access import current_merchant, guard, utc_now
from referral_plugin.web.dashboard.render import render_page

blueprint = Blueprint("dashboard_contests", __name__, url_prefix="/admin/contests")
guard(blueprint)

STANDINGS_SHOWN = 25


@blueprint.get("")
def contest_list() -> tuple[str, int]:
    shop_id = current_merchant().shop_id
    with app_services().sessions.begin() as session:
        found = [p for p in list_programs(session, shop_id) if p.kind is ProgramKind.CONTEST]
        summaries = [
            contests.contest_summary(session, shop_id, p.id, now=utc_now(), top=1) for p in found
        ]
    return render_page("dashboard/contests.html", summaries=summaries)


@blueprint.get("/<int:program_id>")
def contest(program_id: int) -> tuple[str, int]:
    return _contest_page(program_id, 200, drawn=request.args.get("drawn"))


@blueprint.post("/<int:program_id>/draws")
def draw(program_id: int) -> Response | tuple[str, int]:
    merchant = current_merchant()
    values = {name: request.form.get(name, "").strip() for name in ("winners", "seed", "weighting")}
    body: dict[str, Any] = {
        "winners": int(values["winners"]) if values["winners"].isdigit() else values["winners"],
        "weighting": values["weighting"],
    }
    if values["seed"]:
        body["seed"] = values["seed"]
    try:
        wanted = contest_draws.draw_request(body)
        with app_services().sessions.begin() as session:
            made = contest_draws.draw_contest(
                session, merchant.shop_id, program_id, wanted, actor=merchant.actor,
                now=utc_now(),
            )  # fmt: skip
    except ValidationError as exc:
        errors = {error.field: error.message for error in exc.errors}
        return _contest_page(program_id, 422, values=values, errors=errors)
    except Conflict as exc:
        return _contest_page(program_id, 409, values=values, refused=str(exc))
    target = url_for(".contest", program_id=program_id, drawn=made["id"])
    return redirect(f"{target}#draw-{made['id']}", code=303)


@blueprint.get("/<int:program_id>/draws/<int:draw_id>/verify")
def verify(program_id: int, draw_id: int) -> tuple[str, int]:
    shop_id = current_merchant().shop_id
    with app_services().sessions.begin() as session:
        verdict = contest_draws.verify_draw(session, shop_id, program_id, draw_id)
        made = contest_draws.get_draw(session, shop_id, program_id, draw_id)
    return render_page("dashboard/contest_verify.html", verdict=verdict, draw=made)


def _contest_page(program_id: int, status: int, **context: Any) -> tuple[str, int]:
    shop_id = current_merchant().shop_id
    with app_services().sessions.begin() as session:
        summary = contests.contest_summary(  # NotFound (not this shop's contest): the 404 page
            session, shop_id, program_id, now=utc_now(), top=STANDINGS_SHOWN
        )
        draws = contest_draws.list_draws(session, shop_id, program_id)
    defaults = {
        "values": {"winners": "1", "seed": "", "weighting": "per_entry"},
        "errors": {},
        "refused": None,
        "drawn": None,
    }
    return render_page(
        "dashboard/contest.html", status, summary=summary, draws=draws,
        **{**defaults, **context},
    )  # fmt: skip
