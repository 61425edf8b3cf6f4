"""The dashboard's A/B test form: start a test on a program, change a running one (names,
weights, the offers, the holdout, the last day), and end it behind a confirmation.

Every change goes through `services.programs.update_program` with the program's `experiment`
(`experiment_form` turns the form into it), audited with the merchant as the actor, as the
admin API's `PATCH` is. An invalid form comes back with 422, the values kept and each of the
codec's messages at its input; removing a variant advocates are in is refused with 409 and the
reason in words. Ending sets `experiment` to null: everyone then gets the program's own offer,
and the results stay readable. Each variant's offer is shown in words, with the pages its
advocates and their friends see (`program_preview` on `domain.experiments.program_for`), for
the test as shown, or as typed after "Preview the offers" (validated, nothing saved).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, request, url_for
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from referral_plugin.app import app_services
from referral_plugin.domain.experiments import program_for
from referral_plugin.domain.program_codec import experiment_to_dict, variant_rewards
from referral_plugin.domain.programs import Program, RewardKind
from referral_plugin.errors import Conflict, ValidationError
from referral_plugin.services import programs as service
from referral_plugin.services.experiment_assignments import (
    assigned_program_ids,
    assigned_variants,
)
from referral_plugin.web.dashboard import experiment_form as shown
from referral_plugin.web.dashboard.access import current_merchant, guard, utc_now
from referral_plugin.web.dashboard.program_form import ADVOCATE_KINDS, REWARD_INPUTS, FormDraft
from referral_plugin.web.dashboard.program_preview import Preview, offer_in_words, preview
from referral_plugin.web.dashboard.programs import PREVIEW_PUBLIC_ID, summary_helpers
from referral_plugin.web.dashboard.render import render_page

blueprint = Blueprint("dashboard_experiment_setup", __name__, url_prefix="/admin/experiments")
guard(blueprint)


@blueprint.get("/<int:program_id>/setup")
def experiment_form(program_id: int) -> tuple[str, int]:
    with app_services().sessions.begin() as session:
        program = service.get_program(session, current_merchant().shop_id, program_id)
    sides = variant_rewards(program.kind)
    experiment = experiment_to_dict(program.experiment) or shown.default_experiment(program, sides)
    return _form_page(program, shown.form_values(experiment), {}, 200)


@blueprint.post("/<int:program_id>/setup")
def save_experiment(program_id: int) -> Response | tuple[str, int]:
    if request.form.get("preview"):
        return _previewed(program_id)
    merchant = current_merchant()
    try:
        with app_services().sessions.begin() as session:
            program = service.get_program(session, merchant.shop_id, program_id)
            stored = experiment_to_dict(program.experiment)
            draft = shown.experiment_data(request.form, stored, variant_rewards(program.kind))
            service.update_program(
                session, merchant.shop_id, program_id, {"experiment": draft.data},
                now=utc_now(), actor=merchant.actor,
            )  # fmt: skip
    except ValidationError as invalid:
        errors = shown.error_fields(invalid.errors, draft)
        return _form_page(program, request.form, errors, 422)
    except Conflict:  # the only refusal: a removed variant has advocates
        with app_services().sessions.begin() as session:
            assigned = assigned_variants(session, merchant.shop_id, program_id)
        removed = _removed(stored, draft.data, assigned)
        return _form_page(program, request.form, {}, 409, removed=removed)
    done = "changed" if stored else "started"
    target = url_for("dashboard_experiments.experiment", program_id=program_id, done=done)
    return redirect(target, code=303)


def _removed(stored: dict[str, Any] | None, sent: dict[str, Any], assigned: set[str]) -> list[str]:
    """The names of the stored variants with advocates that the form left out."""
    kept = {variant["key"] for variant in sent["variants"]}
    return [
        v["name"]
        for v in (stored or {}).get("variants", [])
        if v["key"] not in kept and v["key"] in assigned
    ]


@blueprint.get("/<int:program_id>/end")
def confirm_end(program_id: int) -> tuple[str, int]:
    shop_id = current_merchant().shop_id
    with app_services().sessions.begin() as session:
        program = service.get_program(session, shop_id, program_id)
        has_results = program_id in assigned_program_ids(session, shop_id)
    return render_page("dashboard/experiment_end.html", program=program, has_results=has_results)


@blueprint.post("/<int:program_id>/end")
def end_experiment(program_id: int) -> Response:
    merchant = current_merchant()
    with app_services().sessions.begin() as session:
        service.update_program(
            session, merchant.shop_id, program_id, {"experiment": None}, now=utc_now(),
            actor=merchant.actor,
        )  # fmt: skip
    return redirect(url_for("dashboard_experiments.experiments", ended=program_id), 303)


def _form_page(
    program: Program, values: MultiDict[str, str], errors: dict[str, list[str]], status: int,
    **context: object,
) -> tuple[str, int]:  # fmt: skip
    """The form with `values`; each variant's offer and pages while the values are valid."""
    sides = variant_rewards(program.kind)
    with app_services().sessions.begin() as session:
        previews = {} if errors else _previews(session, program, values, sides)
    helpers = summary_helpers(None)  # the reward choices' words, as in the setup form
    return render_page(
        "dashboard/experiment_form.html", status, program=program, values=values, errors=errors,
        rows=shown.row_count(values), sides=sides, stored_keys=_keys(program),
        currency=program.currency, reward_inputs=REWARD_INPUTS, previews=previews,
        reward_kinds=_reward_kinds(program), reward_words=helpers["reward_words"],
        unavailable=helpers["unavailable"], **context,
        offer=offer_in_words(program, current_merchant().shop_name),
    )  # fmt: skip


def _previewed(program_id: int) -> tuple[str, int]:
    """The form as sent with each variant's offer and pages, or its errors (422); the
    "Preview the offers" button, which saves nothing."""
    with app_services().sessions.begin() as session:
        program = service.get_program(session, current_merchant().shop_id, program_id)
        stored = experiment_to_dict(program.experiment)
        draft = shown.experiment_data(request.form, stored, variant_rewards(program.kind))
        try:
            _drafted(session, program, draft)
        except ValidationError as invalid:
            return _form_page(program, request.form, shown.error_fields(invalid.errors, draft), 422)
    return _form_page(program, request.form, {}, 200)


def _drafted(session: Session, program: Program, draft: FormDraft) -> Program:
    """The program with the draft's test, validated as saving it would (a new test starts
    now); raises ValidationError. Writes nothing."""
    started = program.experiment.started_at if program.experiment else utc_now()
    data = {"experiment": {**draft.data, "started_at": started.isoformat()}}
    return service.draft_program(session, program.shop_id, data, program_id=program.id)


def _previews(
    session: Session, program: Program, values: MultiDict[str, str], sides: tuple[str, ...]
) -> dict[str, Preview]:
    """What each variant row's advocates and their friends see, by row ({} when invalid)."""
    draft = shown.experiment_data(values, experiment_to_dict(program.experiment), sides)
    try:
        drafted = _drafted(session, program, draft)
    except ValidationError:
        return {}
    merchant, now = current_merchant(), utc_now()
    return {
        draft.rows[f"{shown.VARIANTS}.{index}"]: preview(
            program_for(drafted, variant["key"]), merchant, public_id=PREVIEW_PUBLIC_ID, now=now
        )
        for index, variant in enumerate(draft.data["variants"])
    }


def _keys(program: Program) -> set[str]:
    return {v.key for v in program.experiment.variants} if program.experiment else set()


def _reward_kinds(program: Program) -> dict[str, list[str]]:
    """The reward kinds each side's choice offers (a charity or points program's advocate
    reward has one kind, as in the setup form)."""
    every = [kind.value for kind in RewardKind]
    only = ADVOCATE_KINDS.get(program.kind)
    advocate = every if only is None else [kind.value for kind in only]
    return {"advocate_reward": advocate, "friend_reward": every}
