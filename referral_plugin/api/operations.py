"""The admin API's operations, for integrations: the same use cases as the dashboard pages.

- `GET /api/v1/referrals?status=&program_id=&advocate_id=&limit=&offset=`: referrals, newest
  first, with status reason and fraud findings.
- `POST /api/v1/referrals/review` `{ids, decision: approve|reject, note}`: one result per id
  (approved, rejected, already_decided, not_found); idempotent, never fails as a whole for
  one bad id.
- `POST /api/v1/advocates/<id>/adjustments` `{amount, reason}`: a manual balance adjustment
  (ledger entry + audit entry); 201 with the entry and the new balance.

Authentication and shop scoping as in `api/auth.py`; errors mapped in `api/errors.py`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from referral_plugin.api.admin import (
    API_ACTOR,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    is_integer,
    json_object_body,
    query_int,
    utc_now,
)
from referral_plugin.api.auth import authenticate_shop, current_shop_id
from referral_plugin.app import app_services
from referral_plugin.domain.lifecycle import ReferralStatus
from referral_plugin.errors import FieldError, ValidationError
from referral_plugin.services import adjustments, review_queue
from referral_plugin.services.dashboard_lists import list_referrals, referral_to_dict
from referral_plugin.services.review_queue import ReviewDecision

blueprint = Blueprint("operations_api", __name__, url_prefix="/api/v1")
blueprint.before_request(authenticate_shop)

REVIEW_FIELDS = {"ids", "decision", "note"}
ADJUSTMENT_FIELDS = {"amount", "reason"}


@blueprint.get("/referrals")
def referrals() -> Any:
    status = _status_param()
    program_id = query_int("program_id", default=None, minimum=1)
    advocate_id = query_int("advocate_id", default=None, minimum=1)
    limit = query_int("limit", default=DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE)
    offset = query_int("offset", default=0, minimum=0)
    with app_services().sessions.begin() as session:
        page = list_referrals(
            session, current_shop_id(), status=status, program_id=program_id,
            advocate_id=advocate_id, limit=limit or DEFAULT_PAGE_SIZE, offset=offset or 0,
        )  # fmt: skip
    shown = [referral_to_dict(row) for row in page.items]
    return jsonify(
        {"referrals": shown, "limit": page.limit, "offset": page.offset, "has_more": page.has_more}
    )


@blueprint.post("/referrals/review")
def review() -> Any:
    ids, decision, note = _review_request(json_object_body())
    with app_services().sessions.begin() as session:
        results = review_queue.decide_referrals(
            session, current_shop_id(), ids, decision, note=note, actor=API_ACTOR, now=utc_now()
        )
    return jsonify(
        {"results": [{"id": r.id, "result": r.outcome.value, "status": r.status} for r in results]}
    )


@blueprint.post("/advocates/<int:advocate_id>/adjustments")
def adjust(advocate_id: int) -> Any:
    body = json_object_body()
    unknown = [
        FieldError(name, "unknown field") for name in sorted(body.keys() - ADJUSTMENT_FIELDS)
    ]
    if unknown:
        raise ValidationError(unknown)
    reason = body.get("reason")
    if not isinstance(reason, str):
        raise ValidationError.single("reason", "is required and must be a string")
    amount = adjustments.parse_amount(body.get("amount"))
    with app_services().sessions.begin() as session:
        done = adjustments.adjust_balance(
            session, current_shop_id(), advocate_id, amount=amount, reason=reason,
            actor=API_ACTOR, now=utc_now(),
        )  # fmt: skip
    shown = {
        "id": done.entry_id, "advocate_id": done.advocate_id, "amount": str(done.amount),
        "currency": done.currency, "reason": done.reason, "balance": str(done.balance),
        "created_at": done.created_at.isoformat(),
    }  # fmt: skip
    return jsonify(shown), 201


def _status_param() -> ReferralStatus | None:
    raw = request.args.get("status")
    if raw is None or raw == "":
        return None
    if raw not in set(ReferralStatus):
        allowed = ", ".join(status.value for status in ReferralStatus)
        raise ValidationError.single("status", f"must be one of {allowed}")
    return ReferralStatus(raw)


def _review_request(body: dict[str, Any]) -> tuple[list[int], ReviewDecision, str | None]:
    """(ids, decision, note) of a review request; raises ValidationError naming each field."""
    problems = [FieldError(name, "unknown field") for name in sorted(body.keys() - REVIEW_FIELDS)]
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(is_integer(i) and i > 0 for i in ids):
        problems.append(FieldError("ids", "must be a list of referral ids"))
    decision = body.get("decision")
    if not isinstance(decision, str) or decision not in set(ReviewDecision):
        problems.append(FieldError("decision", "must be approve or reject"))
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        problems.append(FieldError("note", "must be a string"))
    if problems:
        raise ValidationError(problems)
    return list(ids), ReviewDecision(decision), note.strip() or None if note else None
