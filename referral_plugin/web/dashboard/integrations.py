"""The dashboard's integrations page: the merchant's outbound webhooks (register an endpoint,
send a test, rotate the secret, pause, delete, read the delivery log and replay a delivery)
and CSV downloads of advocates, referrals and rewards.

The same services as the admin API (`services.webhook_endpoints`, `services.exports`), with the
merchant as the audit actor. A signing secret is shown once, in the answer to the POST that
made it (never stored in a cookie, never shown again). Invalid input answers 422 with the
message at its field; an action the endpoint's state refuses (a test to a paused endpoint)
answers 409 with the reason.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, request, stream_with_context, url_for

from referral_plugin.app import app_services
from referral_plugin.errors import Conflict, ValidationError
from referral_plugin.query_dates import date_window
from referral_plugin.services import exports
from referral_plugin.services import webhook_endpoints as endpoints
from referral_plugin.services.merchant_webhooks import EVENT_TYPES
from referral_plugin.web.dashboard.access import current_merchant, guard, utc_now
from referral_plugin.web.dashboard.render import render_page

blueprint = Blueprint("dashboard_integrations", __name__, url_prefix="/admin/integrations")
guard(blueprint)

DELIVERY_LOG = 50  # deliveries shown on an endpoint's page, newest first


@blueprint.get("")
def integrations() -> tuple[str, int]:
    return _list_page(200)


@blueprint.post("/webhooks")
def add_webhook() -> tuple[str, int]:
    merchant = current_merchant()
    values = {
        "url": request.form.get("url", "").strip(),
        "description": request.form.get("description", "").strip() or None,
        "events": request.form.getlist("events"),
    }
    services = app_services()
    try:
        with services.sessions.begin() as session:
            endpoint, secret = endpoints.create_endpoint(
                session, merchant.shop_id, values, box=services.box,
                allow_loopback=not services.settings.is_production, now=utc_now(),
                actor=merchant.actor,
            )  # fmt: skip
    except ValidationError as exc:
        return _list_page(422, values=values, errors=_field_errors(exc))
    return _endpoint_page(endpoint["id"], 201, secret=secret, created=True)


@blueprint.get("/webhooks/<int:endpoint_id>")
def webhook(endpoint_id: int) -> tuple[str, int]:
    return _endpoint_page(endpoint_id, 200, done=request.args.get("done"))


@blueprint.post("/webhooks/<int:endpoint_id>/test")
def send_test(endpoint_id: int) -> Response | tuple[str, int]:
    shop_id = current_merchant().shop_id
    try:
        with app_services().sessions.begin() as session:
            endpoints.send_test(session, shop_id, endpoint_id, now=utc_now())
    except Conflict:  # the only refusal of a test: the endpoint is paused
        return _endpoint_page(endpoint_id, 409, refused="paused")
    return _done(endpoint_id, "test")


@blueprint.post("/webhooks/<int:endpoint_id>/secret")
def rotate_secret(endpoint_id: int) -> tuple[str, int]:
    merchant = current_merchant()
    services = app_services()
    with services.sessions.begin() as session:
        _, secret = endpoints.rotate_secret(
            session, merchant.shop_id, endpoint_id, box=services.box, now=utc_now(),
            actor=merchant.actor,
        )  # fmt: skip
    return _endpoint_page(endpoint_id, 200, secret=secret)


@blueprint.post("/webhooks/<int:endpoint_id>/active")
def set_active(endpoint_id: int) -> Response:
    merchant = current_merchant()
    active = request.form.get("active") == "true"
    services = app_services()
    with services.sessions.begin() as session:
        endpoints.update_endpoint(
            session, merchant.shop_id, endpoint_id, {"active": active},
            allow_loopback=not services.settings.is_production, now=utc_now(),
            actor=merchant.actor,
        )  # fmt: skip
    return _done(endpoint_id, "resumed" if active else "paused")


@blueprint.post("/webhooks/<int:endpoint_id>/delete")
def delete_webhook(endpoint_id: int) -> Response:
    merchant = current_merchant()
    with app_services().sessions.begin() as session:
        endpoints.delete_endpoint(
            session, merchant.shop_id, endpoint_id, now=utc_now(), actor=merchant.actor
        )
    return redirect(url_for(".integrations", deleted=1), code=303)


@blueprint.post("/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/retry")
def retry_delivery(endpoint_id: int, delivery_id: int) -> Response | tuple[str, int]:
    merchant = current_merchant()
    try:
        with app_services().sessions.begin() as session:
            endpoints.retry_delivery(
                session, merchant.shop_id, endpoint_id, delivery_id, now=utc_now(),
                actor=merchant.actor,
            )  # fmt: skip
    except Conflict as exc:  # delivered already, or the endpoint is paused
        return _endpoint_page(endpoint_id, 409, refused=_refusal(exc))
    return _done(endpoint_id, "retry")


@blueprint.get("/exports/<kind>.csv")
def export(kind: str) -> Response | tuple[str, int]:
    if kind not in exports.EXPORTS:
        return render_page("dashboard/problem.html", 404, problem="not_found")
    try:
        start, end = date_window()
    except ValidationError as exc:
        dates = {name: request.args.get(name, "") for name in ("from", "to")}
        return _list_page(422, export_kind=kind, dates=dates, date_errors=_field_errors(exc))
    lines = exports.export_csv(
        app_services().sessions.begin, current_merchant().shop_id, kind, start=start, end=end
    )
    return Response(
        stream_with_context(lines),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{kind}.csv"',
            "Cache-Control": "no-store",
        },
    )


def _list_page(status: int, **context: Any) -> tuple[str, int]:
    with app_services().sessions.begin() as session:
        found = endpoints.list_endpoints(session, current_merchant().shop_id)
    defaults: dict[str, Any] = {
        "values": {"events": list(EVENT_TYPES)},
        "errors": {},
        "dates": {},
        "date_errors": {},
        "export_kind": None,
        "deleted": request.args.get("deleted") is not None,
    }
    return render_page(
        "dashboard/integrations.html", status, endpoints=found, event_types=EVENT_TYPES,
        export_kinds=list(exports.EXPORTS), **{**defaults, **context},
    )  # fmt: skip


def _endpoint_page(endpoint_id: int, status: int, **context: Any) -> tuple[str, int]:
    shop_id = current_merchant().shop_id
    with app_services().sessions.begin() as session:
        endpoint = endpoints.get_endpoint(session, shop_id, endpoint_id)  # NotFound: 404 page
        deliveries = endpoints.list_deliveries(
            session, shop_id, endpoint_id, limit=DELIVERY_LOG, offset=0
        )
    return render_page(
        "dashboard/webhook.html", status, endpoint=endpoint, deliveries=deliveries,
        log_size=DELIVERY_LOG,
        **{"secret": None, "created": False, "refused": None, "done": None, **context},
    )  # fmt: skip


def _done(endpoint_id: int, what: str) -> Response:
    return redirect(url_for(".webhook", endpoint_id=endpoint_id, done=what), code=303)


def _refusal(exc: Conflict) -> str:
    return "delivered" if "delivered already" in str(exc) else "paused"


def _field_errors(exc: ValidationError) -> dict[str, str]:
    return {error.field.split(".")[0]: error.message for error in exc.errors}
