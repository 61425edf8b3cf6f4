"""The dashboard's A/B test pages: the programs that run (or ran) a test, and one test's results
per group with the comparisons in words (`services.experiments.experiment_results`, the same
numbers as `GET /api/v1/programs/<id>/experiment`).

A test is set on the program (its `experiment`): `experiment_setup` starts, changes and ends
it; these pages only read. Each group's offer is
written as the shoppers of that group read it (`domain.experiments.program_for`), in the
dashboard's language. Dates are whole UTC days; a bad one answers 422 at its field.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, request
from flask_babel import force_locale

from referral_plugin.app import app_services
from referral_plugin.domain.experiments import HOLDOUT, program_for
from referral_plugin.domain.offers import describe_offer
from referral_plugin.domain.programs import Program
from referral_plugin.errors import ValidationError
from referral_plugin.query_dates import date_window
from referral_plugin.services.experiment_assignments import assigned_program_ids
from referral_plugin.services.experiments import experiment_results
from referral_plugin.services.programs import get_program, list_programs
from referral_plugin.web.dashboard.access import current_merchant, guard, utc_now
from referral_plugin.web.dashboard.program_preview import offer_in_words
from referral_plugin.web.dashboard.render import LOCALE, id_arg, render_page
from referral_plugin.web.offer_text import offer_headline

blueprint = Blueprint("dashboard_experiments", __name__, url_prefix="/admin/experiments")
guard(blueprint)


@blueprint.get("")
def experiments() -> tuple[str, int]:
    """The programs with a test, then the others: results of an ended test, or a start."""
    merchant = current_merchant()
    with app_services().sessions.begin() as session:
        programs = list_programs(session, merchant.shop_id)
        with_results = assigned_program_ids(session, merchant.shop_id)
    others = [program for program in programs if not program.experiment]
    return render_page(
        "dashboard/experiments.html", tests=[p for p in programs if p.experiment],
        others=others, with_results=with_results, ended=id_arg("ended"),
        offers={p.id: offer_in_words(p, merchant.shop_name) for p in others},
    )  # fmt: skip


@blueprint.get("/<int:program_id>")
def experiment(program_id: int) -> tuple[str, int]:
    shop_id = current_merchant().shop_id
    dates = {name: request.args.get(name, "") for name in ("from", "to")}
    with app_services().sessions.begin() as session:
        program = get_program(session, shop_id, program_id)  # NotFound: the 404 page
        try:
            since, until = date_window()
            results = experiment_results(
                session, shop_id, program_id, since=since, until=until, now=utc_now()
            )
        except ValidationError as exc:
            errors = {_field(error.field): error.message for error in exc.errors}
            return render_page(
                "dashboard/experiment.html", 422, program=program, results=None,
                offers={}, dates=dates, errors=errors, done=None,
            )  # fmt: skip
    return render_page(
        "dashboard/experiment.html", program=program, results=results,
        offers=_offers(program, results), dates=dates, errors={}, done=request.args.get("done"),
        one_second=timedelta(seconds=1),
    )  # fmt: skip


def _field(name: str) -> str:
    """The service says since/until; the page's fields are from/to."""
    return {"since": "from", "until": "to"}.get(name, name)


def _offers(program: Program, results: dict[str, Any]) -> dict[str, str]:
    """Each group's offer as its shoppers read it."""
    store = current_merchant().shop_name
    with force_locale(LOCALE):
        return {
            group["key"]: "No program (holdout)"
            if group["key"] == HOLDOUT
            else offer_headline(describe_offer(program_for(program, group["key"])), store)
            for group in results["groups"]
        }
