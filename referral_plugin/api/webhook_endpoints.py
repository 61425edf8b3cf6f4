"""The admin API's outbound webhooks under `/api/v1/webhook-endpoints`: the merchant's
endpoints, their delivery log, replaying a delivery and sending a test event.

Authenticated like the rest of the admin API (`authenticate_shop`); every service call gets
the token's shop, so another shop's endpoint or delivery ids answer 404. The signing secret is
in the answer of create and rotate only. Loopback URLs (`http://127.0.0.1:PORT`) are accepted
outside production, where the merchant's endpoint in development is a local server.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, url_for

from referral_plugin.api.admin import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    created,
    json_object_body,
    query_int,
    utc_now,
)
from referral_plugin.api.auth import authenticate_shop, current_shop_id
from referral_plugin.app import app_services
from referral_plugin.services import webhook_endpoints as endpoints

blueprint = Blueprint("webhook_endpoints_api", __name__, url_prefix="/api/v1")
blueprint.before_request(authenticate_shop)


def _allow_loopback() -> bool:
    return not app_services().settings.is_production


@blueprint.get("/webhook-endpoints")
def list_endpoints() -> Any:
    with app_services().sessions.begin() as session:
        found = endpoints.list_endpoints(session, current_shop_id())
    return jsonify({"webhook_endpoints": found})


@blueprint.post("/webhook-endpoints")
def create_endpoint() -> Any:
    body = json_object_body()
    services = app_services()
    with services.sessions.begin() as session:
        endpoint, secret = endpoints.create_endpoint(
            session,
            current_shop_id(),
            body,
            box=services.box,
            allow_loopback=_allow_loopback(),
            now=utc_now(),
        )
    location = url_for(".get_endpoint", endpoint_id=endpoint["id"])
    return created({**endpoint, "secret": secret}, location)


@blueprint.get("/webhook-endpoints/<int:endpoint_id>")
def get_endpoint(endpoint_id: int) -> Any:
    with app_services().sessions.begin() as session:
        endpoint = endpoints.get_endpoint(session, current_shop_id(), endpoint_id)
    return jsonify(endpoint)


@blueprint.patch("/webhook-endpoints/<int:endpoint_id>")
def update_endpoint(endpoint_id: int) -> Any:
    body = json_object_body()
    with app_services().sessions.begin() as session:
        endpoint = endpoints.update_endpoint(
            session,
            current_shop_id(),
            endpoint_id,
            body,
            allow_loopback=_allow_loopback(),
            now=utc_now(),
        )
    return jsonify(endpoint)


@blueprint.delete("/webhook-endpoints/<int:endpoint_id>")
def delete_endpoint(endpoint_id: int) -> Any:
    with app_services().sessions.begin() as session:
        endpoints.delete_endpoint(session, current_shop_id(), endpoint_id, now=utc_now())
    return "", 204


@blueprint.post("/webhook-endpoints/<int:endpoint_id>/rotate-secret")
def rotate_secret(endpoint_id: int) -> Any:
    services = app_services()
    with services.sessions.begin() as session:
        endpoint, secret = endpoints.rotate_secret(
            session, current_shop_id(), endpoint_id, box=services.box, now=utc_now()
        )
    return jsonify({**endpoint, "secret": secret})


@blueprint.post("/webhook-endpoints/<int:endpoint_id>/test")
def send_test(endpoint_id: int) -> Any:
    with app_services().sessions.begin() as session:
        delivery_id = endpoints.send_test(session, current_shop_id(), endpoint_id, now=utc_now())
    location = url_for(".get_delivery", endpoint_id=endpoint_id, delivery_id=delivery_id)
    return jsonify({"delivery_id": delivery_id}), 202, {"Location": location}


@blueprint.get("/webhook-endpoints/<int:endpoint_id>/deliveries")
def list_deliveries(endpoint_id: int) -> Any:
    limit = query_int("limit", default=DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE)
    offset = query_int("offset", default=0, minimum=0)
    with app_services().sessions.begin() as session:
        found = endpoints.list_deliveries(
            session,
            current_shop_id(),
            endpoint_id,
            limit=limit or DEFAULT_PAGE_SIZE,
            offset=offset or 0,
        )
    return jsonify({"deliveries": found, "limit": limit, "offset": offset})


@blueprint.get("/webhook-endpoints/<int:endpoint_id>/deliveries/<int:delivery_id>")
def get_delivery(endpoint_id: int, delivery_id: int) -> Any:
    with app_services().sessions.begin() as session:
        found = endpoints.get_delivery(session, current_shop_id(), endpoint_id, delivery_id)
    return jsonify(found)


@blueprint.post("/webhook-endpoints/<int:endpoint_id>/deliveries/<int:delivery_id>/retry")
def retry_delivery(endpoint_id: int, delivery_id: int) -> Any:
    with app_services().sessions.begin() as session:
        found = endpoints.retry_delivery(
            session, current_shop_id(), endpoint_id, delivery_id, now=utc_now()
        )
    return jsonify(found)
