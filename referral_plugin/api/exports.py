"""The admin API's CSV exports: `GET /api/v1/exports/{advocates,referrals,rewards}.csv`.

Optional `from` and `to` (dates, `YYYY-MM-DD`, inclusive, UTC, from 2000-01-01 to 2099-12-31:
`query_dates`) keep the rows created in that window; a bad value answers 422 naming the
parameter. The body streams page by page (`services.exports`), UTF-8 with a header row.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, stream_with_context

from referral_plugin.api.auth import authenticate_shop, current_shop_id
from referral_plugin.app import app_services
from referral_plugin.errors import ValidationError
from referral_plugin.query_dates import query_date
from referral_plugin.services import exports

blueprint = Blueprint("exports_api", __name__, url_prefix="/api/v1")
blueprint.before_request(authenticate_shop)


@blueprint.get("/exports/advocates.csv")
def export_advocates() -> Any:
    return _csv("advocates")


@blueprint.get("/exports/referrals.csv")
def export_referrals() -> Any:
    return _csv("referrals")


@blueprint.get("/exports/rewards.csv")
def export_rewards() -> Any:
    return _csv("rewards")


def _csv(kind: str) -> Response:
    start, end = date_window()
    lines = exports.export_csv(
        app_services().sessions.begin, current_shop_id(), kind, start=start, end=end
    )
    return Response(
        stream_with_context(lines),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{kind}.csv"',
            "Cache-Control": "no-store",
        },
    )


def date_window() -> tuple[datetime | None, datetime | None]:
    """[start, end) in UTC from the `from` and `to` dates; raises ValidationError naming them."""
    first, last = query_date("from"), query_date("to")
    if first is not None and last is not None and last < first:
        raise ValidationError.single("to", "must not be before from")
    start = None if first is None else datetime.combine(first, time(), tzinfo=UTC)
    end = None if last is None else datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
    return start, end
