"""The review queue page: referrals a fraud check flagged, with the findings in plain words.

The merchant ticks referrals and presses Approve or Reject (or the buttons of one referral),
sees a confirmation page listing what will happen (with an optional note for the audit log),
confirms, and comes back to the queue with the result: how many were decided and how many were
skipped because they were already decided (`services.review_queue`, idempotent per id).
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for

from referral_plugin.app import app_services
from referral_plugin.errors import ValidationError
from referral_plugin.services import dashboard_lists as lists
from referral_plugin.services import dashboard_totals as totals
from referral_plugin.services import review_queue
from referral_plugin.services.review_queue import ReviewDecision, ReviewOutcome
from referral_plugin.web.dashboard.access import current_merchant, guard, utc_now
from referral_plugin.web.dashboard.render import (
    PAGE_SIZE,
    enum_arg,
    id_arg,
    offset_of,
    page_number,
    render_page,
)

blueprint = Blueprint("dashboard_review", __name__, url_prefix="/admin/review")
guard(blueprint)


@blueprint.get("")
def queue() -> tuple[str, int]:
    result = {
        "decision": enum_arg("decided", ReviewDecision),
        "done": id_arg("done") or 0,
        "skipped": id_arg("skipped") or 0,
    }
    return _queue_page(200, result=result if result["decision"] else None)


@blueprint.post("/confirm")
def confirm() -> tuple[str, int]:
    decision, ids = _chosen()
    if decision is None or not ids:
        return _queue_page(422, problem="choose")
    with app_services().sessions.begin() as session:
        chosen = lists.list_referrals(
            session, current_merchant().shop_id, ids=ids, limit=review_queue.MAX_IDS
        )
    return render_page("dashboard/review_confirm.html", decision=decision, chosen=chosen.items)


@blueprint.post("/decide")
def decide() -> Response | tuple[str, int]:
    merchant = current_merchant()
    decision, ids = _chosen()
    if decision is None:
        return _queue_page(422, problem="choose")
    note = request.form.get("note", "").strip() or None
    try:
        with app_services().sessions.begin() as session:
            results = review_queue.decide_referrals(
                session, merchant.shop_id, ids, decision, note=note, actor=merchant.actor,
                now=utc_now(),
            )  # fmt: skip
    except ValidationError:
        return _queue_page(422, problem="choose")
    done = sum(r.outcome in (ReviewOutcome.APPROVED, ReviewOutcome.REJECTED) for r in results)
    target = url_for(
        ".queue", decided=decision.value, done=done or None, skipped=(len(results) - done) or None
    )
    return redirect(target, code=303)


def _chosen() -> tuple[ReviewDecision | None, list[int]]:
    """The decision and ids of the form: one referral's own button, or the ticked ones."""
    for decision in ReviewDecision:
        one = request.form.get(f"{decision.value}_one", "")
        if one.isdigit():
            return decision, [int(one)]
    raw = request.form.get("decision", "")
    decision = ReviewDecision(raw) if raw in set(ReviewDecision) else None
    ids = [int(value) for value in request.form.getlist("ids") if value.isdigit()]
    return decision, ids[: review_queue.MAX_IDS]


def _queue_page(status: int, **context: object) -> tuple[str, int]:
    shop_id = current_merchant().shop_id
    program_id, page = id_arg("program"), page_number()
    with app_services().sessions.begin() as session:
        found = review_queue.list_flagged(
            session, shop_id, program_id=program_id, limit=PAGE_SIZE, offset=offset_of(page)
        )
        programs = totals.program_choices(session, shop_id)
    return render_page(
        "dashboard/review.html", status, found=found, page=page, programs=programs,
        filters={"program": program_id}, **{"result": None, "problem": None, **context},
    )  # fmt: skip
