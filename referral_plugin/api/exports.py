"""The admin API's CSV exports: `GET /api/v1/exports/{advocates,referrals,rewards}.csv`.

Optional `from` and `to` (dates, `YYYY-MM-DD`, inclusive, UTC, from 2000-01-01 to 2099-12-31:
`query_dates`) keep the rows created in that window; a bad value answers 422 naming the
parameter. The body streams page by page (`services.exports`), UTF-8 with a header row.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, stream_with_context

from referral_plugin.api.auth import authenticate_shop, current_shop_id
from referral_plugin.app import app_services
from referral_plugin.query_dates import date_window
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
