"""The admin API's segments under `/api/v1/programs/<id>/segments/<segment>`: the customers
worth inviting to a program (repeat buyers, high spenders, recent buyers who have not joined),
and inviting them (`.../invite`: enrolled as advocates, each sent the welcome email).

Authenticated like the rest of the admin API; another shop's program answers 404, as does an
unknown segment. The definitions are in `services.segments`, the invitation's rules (at most
`MAX_INVITES` per call, `DAILY_CAP` per shop and day, idempotent) in `services.segment_invites`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, jsonify, request

from referral_plugin.api.admin import API_ACTOR, json_object_body, query_int, utc_now
from referral_plugin.api.auth import authenticate_shop, current_shop_id
from referral_plugin.app import app_services
from referral_plugin.domain.money import Money
from referral_plugin.email_links import email_hash_key
from referral_plugin.errors import FieldError, NotFound, ValidationError
from referral_plugin.services import segment_invites, segments
from referral_plugin.services.segment_invites import InviteRequest
from referral_plugin.services.segments import SegmentName, SegmentPage, SegmentQuery

MAX_SPENT = Decimal("1000000000")
INVITE_FIELDS = frozenset({"emails", "all", "days", "min_spent"})

blueprint = Blueprint(
    "segments_api", __name__, url_prefix="/api/v1/programs/<int:program_id>/segments/<segment>"
)
blueprint.before_request(authenticate_shop)


@blueprint.before_request
def _known_path() -> None:
    """An unknown segment answers 404 (after authentication; an id past BIGINT never gets
    here: `app.refuse_ids_out_of_range`)."""
    args = request.view_args or {}
    if args.get("segment") not in set(SegmentName):
        raise NotFound("segment", args.get("segment"))


@blueprint.get("")
def get_segment(program_id: int, segment: str) -> Any:
    query = segment_query(SegmentName(segment), request.args)
    limit = query_int(
        "limit", default=segments.DEFAULT_LIMIT, minimum=1, maximum=segments.MAX_LIMIT
    )
    cursor = request.args.get("cursor") or None
    services = app_services()
    with services.sessions.begin() as session:
        page = segments.segment_page(
            session, current_shop_id(), program_id, query,
            email_key=email_hash_key(services.settings.secret_key), now=utc_now(),
            limit=limit or segments.DEFAULT_LIMIT, cursor=cursor,
        )  # fmt: skip
    return jsonify(page_body(program_id, query, page))


@blueprint.post("/invite")
def invite(program_id: int, segment: str) -> Any:
    body = json_object_body()
    wanted = invite_request(SegmentName(segment), body)
    services = app_services()
    with services.sessions.begin() as session:
        result = segment_invites.invite_segment(
            session, current_shop_id(), program_id, wanted,
            email_key=email_hash_key(services.settings.secret_key), actor=API_ACTOR, now=utc_now(),
        )  # fmt: skip
    return jsonify({"segment": segment, "program_id": program_id, **result.as_dict()})


def segment_query(name: SegmentName, source: Any) -> SegmentQuery:
    """The segment's parameters from the query string or a JSON body (`days`, `min_spent`);
    raises ValidationError naming each one that is wrong."""
    problems: list[FieldError] = []
    days = _days(source.get("days"), problems)
    min_spent = _min_spent(source.get("min_spent"), problems)
    if problems:
        raise ValidationError(problems)
    return SegmentQuery(segment=name, days=days, min_spent=min_spent)


def _days(raw: Any, problems: list[FieldError]) -> int:
    if raw is None or raw == "":
        return segments.RECENT_DAYS
    text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if isinstance(text, str) and text.isdigit() and 1 <= int(text) <= segments.MAX_DAYS:
        return int(text)
    problems.append(FieldError("days", f"must be a whole number from 1 to {segments.MAX_DAYS}"))
    return segments.RECENT_DAYS


def _min_spent(raw: Any, problems: list[FieldError]) -> Decimal | None:
    if raw is None or raw == "":
        return None
    try:
        number = isinstance(raw, int | float | str) and not isinstance(raw, bool)
        amount = Decimal(str(raw)) if number else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or not 0 < amount < MAX_SPENT:
        problems.append(FieldError("min_spent", "must be a positive decimal amount"))
        return None
    return amount


def invite_request(name: SegmentName, body: dict[str, Any]) -> InviteRequest:
    """`{"emails": [...]}` or `{"all": true}`, with the segment's parameters; raises
    ValidationError naming each field that is wrong."""
    problems = [FieldError(key, "unknown field") for key in sorted(body.keys() - INVITE_FIELDS)]
    emails, everyone = body.get("emails"), body.get("all")
    if everyone is not None and not isinstance(everyone, bool):
        problems.append(FieldError("all", "must be true or false"))
    if emails is not None and not (
        isinstance(emails, list) and emails and all(isinstance(e, str) for e in emails)
    ):
        problems.append(FieldError("emails", "must be a non-empty list of email addresses"))
    elif emails is not None and len(emails) > segment_invites.MAX_INVITES:
        problems.append(
            FieldError("emails", f"at most {segment_invites.MAX_INVITES} addresses per request")
        )
    if (emails is None) == (everyone is not True):
        problems.append(FieldError("emails", 'send either "emails" or "all": true'))
    try:
        query = segment_query(name, body)
    except ValidationError as exc:
        problems.extend(exc.errors)
    if problems:
        raise ValidationError(problems)
    return InviteRequest(query=query, emails=None if emails is None else tuple(emails))


def page_body(program_id: int, query: SegmentQuery, page: SegmentPage) -> dict[str, Any]:
    return {
        "segment": query.segment.value,
        "program_id": program_id,
        "currency": page.currency,
        "total": page.total,
        "days": query.days if query.segment is SegmentName.RECENT_NOT_JOINED else None,
        "since": None if page.since is None else page.since.isoformat(),
        "threshold": None if page.threshold is None else _money(page.threshold),
        "customers": [
            {
                "email": c.email,
                "first_name": c.first_name,
                "last_name": c.last_name,
                "orders": c.orders,
                "spent": [_money(amount) for amount in c.spent],
                "last_order_at": c.last_order_at.isoformat(),
            }
            for c in page.customers
        ],
        "next_cursor": page.next_cursor,
    }


def _money(money: Money) -> dict[str, str]:
    return {"amount": str(money.amount), "currency": money.currency}
