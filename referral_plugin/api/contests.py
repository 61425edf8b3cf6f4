"""The admin API's contests under `/api/v1/programs/<id>/contest`: the live leaderboard with
names and emails, the winner draws (made only after the contest ended), and their check
against the current entries.

Authenticated like the rest of the admin API (`authenticate_shop`); every service call gets
the token's shop, so another shop's program or draw ids answer 404, as does a program that is
not a contest. Each accepted POST records a new draw (see `services.contest_draws`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, url_for

from referral_plugin.api.admin import API_ACTOR, created, json_object_body, query_int, utc_now
from referral_plugin.api.auth import authenticate_shop, current_shop_id
from referral_plugin.app import app_services
from referral_plugin.services import contest_draws, contests

DEFAULT_TOP = 10
MAX_TOP = 100

blueprint = Blueprint("contests_api", __name__, url_prefix="/api/v1/programs/<int:program_id>")
blueprint.before_request(authenticate_shop)


@blueprint.get("/contest")
def get_contest(program_id: int) -> Any:
    top = query_int("limit", default=DEFAULT_TOP, minimum=1, maximum=MAX_TOP) or DEFAULT_TOP
    with app_services().sessions.begin() as session:
        summary = contests.contest_summary(
            session, current_shop_id(), program_id, now=utc_now(), top=top
        )
    return jsonify(summary)


@blueprint.post("/contest/draws")
def create_draw(program_id: int) -> Any:
    wanted = contest_draws.draw_request(json_object_body())
    with app_services().sessions.begin() as session:
        draw = contest_draws.draw_contest(
            session, current_shop_id(), program_id, wanted, actor=API_ACTOR, now=utc_now()
        )
    return created(draw, url_for(".get_draw", program_id=program_id, draw_id=draw["id"]))


@blueprint.get("/contest/draws")
def list_draws(program_id: int) -> Any:
    with app_services().sessions.begin() as session:
        draws = contest_draws.list_draws(session, current_shop_id(), program_id)
    return jsonify({"draws": draws})


@blueprint.get("/contest/draws/<int:draw_id>")
def get_draw(program_id: int, draw_id: int) -> Any:
    with app_services().sessions.begin() as session:
        draw = contest_draws.get_draw(session, current_shop_id(), program_id, draw_id)
    return jsonify(draw)


@blueprint.get("/contest/draws/<int:draw_id>/verify")
def verify_draw(program_id: int, draw_id: int) -> Any:
    with app_services().sessions.begin() as session:
        verdict = contest_draws.verify_draw(session, current_shop_id(), program_id, draw_id)
    return jsonify(verdict)
