"""The admin API's A/B test results: `GET /api/v1/programs/<id>/experiment?since=&until=`.

Authenticated like the rest of the admin API (`authenticate_shop`); another shop's program,
or one that never ran an experiment, answers 404. `since` and `until` are ISO 8601 times with a
zone, or dates (`YYYY-MM-DD`, UTC midnight); they select the advocates assigned in
[since, until) (default: the experiment's start to its end, or now). A bad value answers 422
naming the parameter. The experiment itself is set through the program (`PATCH
/api/v1/programs/<id>` with `experiment`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, jsonify, request

from referral_plugin.api.admin import utc_now
from referral_plugin.api.auth import authenticate_shop, current_shop_id
from referral_plugin.app import app_services
from referral_plugin.errors import ValidationError
from referral_plugin.services.experiments import experiment_results

blueprint = Blueprint("experiments_api", __name__, url_prefix="/api/v1/programs")
blueprint.before_request(authenticate_shop)


@blueprint.get("/<int:program_id>/experiment")
def get_experiment(program_id: int) -> Any:
    since, until = requested_time("since"), requested_time("until")
    with app_services().sessions.begin() as session:
        results = experiment_results(
            session, current_shop_id(), program_id, since=since, until=until, now=utc_now()
        )
    return jsonify(results)


def requested_time(name: str) -> datetime | None:
    """The query parameter as aware UTC: an ISO 8601 time with a zone, or a date (midnight
    UTC); raises ValidationError naming the parameter."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), datetime.min.time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.utcoffset() is None:
        raise ValidationError.single(
            name, "must be a date (YYYY-MM-DD) or an ISO 8601 time with a zone"
        )
    return parsed.astimezone(UTC)
