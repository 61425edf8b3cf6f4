"""The admin API's compliance views under `/api/v1`: the customer data requests the shop's
store sent us, and the export each one was answered with.

Authenticated like the rest of the admin API (`authenticate_shop`); every query is scoped to
the token's shop, so another shop's data request ids answer 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from referral_plugin.api.admin import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, query_int
from referral_plugin.api.auth import authenticate_shop, current_shop_id
from referral_plugin.app import app_services
from referral_plugin.services import compliance

blueprint = Blueprint("compliance_api", __name__, url_prefix="/api/v1")
blueprint.before_request(authenticate_shop)


@blueprint.get("/data-requests")
def list_data_requests() -> Any:
    limit = query_int("limit", default=DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE)
    offset = query_int("offset", default=0, minimum=0)
    with app_services().sessions.begin() as session:
        found, total = compliance.list_data_requests(
            session, current_shop_id(), limit=limit or DEFAULT_PAGE_SIZE, offset=offset or 0
        )
    return jsonify({"data_requests": found, "total": total, "limit": limit, "offset": offset})


@blueprint.get("/data-requests/<int:data_request_id>")
def get_data_request(data_request_id: int) -> Any:
    with app_services().sessions.begin() as session:
        found = compliance.get_data_request(session, current_shop_id(), data_request_id)
    return jsonify(found)
