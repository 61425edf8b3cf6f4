"""A local WooCommerce REST v3 server following the documented contract (FakeWooCommerce).

Served over plain http on 127.0.0.1, so the `woocommerce` package signs every request with
one-legged OAuth 1.0a in the query string, and this server checks it the way WooCommerce's
`WC_REST_Authentication::check_oauth_signature` does (HMAC-SHA256 over method, URL and sorted
parameters with `consumer_secret&`, a timestamp within 15 minutes, a nonce used once). That
is simpler than https with a self-signed certificate and tests the real signing path; Basic
auth (https) is the package's other branch and is not served here.

Contract modelled: coupons (codes stored lower-case, 400 `..._code_already_exists`, lookup by
`?code=`, DELETE moves to the trash unless `force=true`, batch with per-item errors in a 200
and 413 above 100 items; an order refused for a coupon of another billing email or one used
up to its `usage_limit`), webhooks (secret write-only, list/create/update/delete, 501 on
delete without force), orders (`modified_after` in the site's timezone unless
`dates_are_gmt`, `per_page` 1-100, `X-WP-Total` / `X-WP-TotalPages`). Faults are scripted:
`fail_next` answers an error (429 with Retry-After, 500...) and `stall_next` does the work
then answers too late for the client's read timeout (a lost response).

Beyond the REST API, the store behaves like WooCommerce towards our app (see
`woocommerce_fake_outbound.py`): `/wc-auth/v1/authorize` creates a key, POSTs it as JSON to the
https callback and redirects to `return_url` with `success=1` (or `success=0` when
`approve_auth` is False; a logged-in administrator approving at once stands in for the login
and grant screens); orders created, updated or refunded through the API are delivered to the
active webhooks of their topic, signed and shaped like WooCommerce's, a failing delivery
counted and the webhook disabled on the 7th failure in a row; a new webhook gets the unsigned
ping. Our public https address is reached through `outbound` (public prefix → local URL), as a
TLS-terminating proxy in front of the app would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tests.woocommerce_fake_outbound import AUTHORIZE_PATH, Outbound, authorize

PREFIX = "/wp-json/wc/v3/"
BATCH_LIMIT = 100
MAX_FAILURES = 5  # woocommerce_max_webhook_delivery_failures: disabled when count > 5
TOPIC = re.compile(r"^(coupon|customer|order|product)\.(created|updated|deleted|restored)$")
Handler = Callable[[Request, re.Match[str]], Response]


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        return None


@dataclass
class Fault:
    method: str | None
    path: str | None
    status: int = 500
    code: str = "internal_server_error"
    retry_after: str | None = None
    stall: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return (self.method in (None, method)) and (self.path is None or self.path in path)


class FakeWooCommerce:
    """Start with `with FakeWooCommerce() as store:`; `store.url` is the store's address."""

    def __init__(
        self,
        consumer_key: str = "ck_fake_key",
        consumer_secret: str = "cs_fake_secret",  # noqa: S107 - a test key
        site_offset: timedelta = timedelta(hours=-3),
        outbound: dict[str, str] | None = None,
    ) -> None:
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.keys: dict[str, tuple[str, str]] = {consumer_key: (consumer_secret, "read_write")}
        self.outbound = Outbound(dict(outbound or {}))
        self.approve_auth = True
        self.currency, self.admin_email = "USD", "owner@store.example.com"
        self.webhook_failures: dict[int, int] = {}
        self.site_offset = site_offset
        self.coupons: dict[int, dict[str, Any]] = {}
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.webhook_secrets: dict[int, str] = {}
        self.orders: list[dict[str, Any]] = []
        self.seen: list[tuple[str, str, dict[str, str]]] = []  # method, endpoint, query
        self.batch_creates: list[str] = []  # the code of every batch create item, in order
        self._faults: deque[Fault] = deque()
        self._refused: dict[str, tuple[str, str]] = {}  # code -> (error code, message)
        self._nonces: set[str] = set()
        self._ids = itertools.count(700)
        self._lock = threading.RLock()
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"system_status"), self._system_status),
            ("POST", re.compile(r"coupons/batch"), self._coupons_batch),
            ("GET", re.compile(r"coupons"), self._coupons_list),
            ("POST", re.compile(r"coupons"), self._coupon_create),
            ("GET", re.compile(r"coupons/(\d+)"), self._coupon_get),
            ("DELETE", re.compile(r"coupons/(\d+)"), self._coupon_delete),
            ("GET", re.compile(r"webhooks"), self._webhooks_list),
            ("POST", re.compile(r"webhooks"), self._webhook_create),
            ("PUT", re.compile(r"webhooks/(\d+)"), self._webhook_update),
            ("DELETE", re.compile(r"webhooks/(\d+)"), self._webhook_delete),
            ("GET", re.compile(r"orders"), self._orders_list),
            ("POST", re.compile(r"orders"), self._order_create),
            ("GET", re.compile(r"orders/(\d+)"), self._order_get),
            ("PUT", re.compile(r"orders/(\d+)"), self._order_update),
            ("POST", re.compile(r"orders/(\d+)/refunds"), self._refund_create),
            ("GET", re.compile(r"settings/(general|email)/([a-z_]+)"), self._setting),
        ]

    # --- lifecycle and scripting ---------------------------------------------------------

    def __enter__(self) -> FakeWooCommerce:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        code: str | None = None,
        retry_after: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """The next `times` matching requests get an error answer and change nothing."""
        fault = Fault(method, path, status, code or f"http_{status}", retry_after)
        self._faults.extend([fault] * times)

    def stall_next(self, seconds: float, *, method: str | None = None, path: str | None = None):
        """The next matching request is carried out, then answered after `seconds`."""
        self._faults.append(Fault(method, path, status=0, stall=seconds))

    def refuse_code(self, code: str, error_code: str, message: str) -> None:
        """Creating a coupon with `code` answers a 400 with this error (e.g. a plugin's)."""
        self._refused[code.lower()] = (error_code, message)

    def calls(self, method: str, endpoint: str) -> list[dict[str, str]]:
        """The queries of the requests made to exactly `endpoint` with `method`."""
        return [query for m, e, query in self.seen if m == method and e == endpoint]

    def writes(self) -> list[tuple[str, str]]:
        return [(m, e) for m, e, _ in self.seen if m != "GET"]

    def add_order(self, **fields: Any) -> dict[str, Any]:
        order = order_record(next(self._ids), self.site_offset, **fields)
        with self._lock:
            self.orders.append(order)
        return order

    def add_webhook(self, secret: str = "unknown", **fields: Any) -> dict[str, Any]:  # noqa: S107
        hook_id = next(self._ids)
        hook = {"id": hook_id, "name": "", "status": "active", "topic": "order.created"}
        hook.update(fields)
        with self._lock:
            self.webhooks[hook_id], self.webhook_secrets[hook_id] = hook, secret
        return hook

    def coupon_by_code(self, code: str) -> dict[str, Any] | None:
        found = [c for c in self.coupons.values() if c["code"] == code.lower()]
        return found[0] if found else None

    # --- WSGI ------------------------------------------------------------------------------

    @Request.application
    def _wsgi(self, request: Request) -> Response:
        later: list[Callable[[], None]] = []
        request.environ["fake.later"] = later
        response = self._answer(request)
        for send in later:  # deliveries and pings, outside the lock, before we answer
            send()
        return response

    def _answer(self, request: Request) -> Response:
        if request.path.rstrip("/") == AUTHORIZE_PATH:
            return authorize(self, request)
        if not request.path.startswith(PREFIX):
            return Response("<html>Not Found</html>", 404, content_type="text/html")
        endpoint = request.path[len(PREFIX) :]
        query = {k: v for k, v in request.args.items() if not k.startswith("oauth_")}
        self.seen.append((request.method, endpoint, query))
        problem = self._oauth_problem(request)
        if problem:
            return error(401, "woocommerce_rest_authentication_error", problem)
        if request.method != "GET" and self._permissions(request) == "read":
            message = "The API key provided does not have write permissions."
            return error(401, "woocommerce_rest_authentication_error", message)
        fault = self._take_fault(request.method, endpoint)
        if fault is not None and not fault.stall:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return error(fault.status, fault.code, "scripted failure", headers)
        response = self._dispatch(request, endpoint)
        if fault is not None:
            time.sleep(fault.stall)
        return response

    def _take_fault(self, method: str, endpoint: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, endpoint):
                    self._faults.remove(fault)
                    return fault
        return None

    def _dispatch(self, request: Request, endpoint: str) -> Response:
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(endpoint)
            if match and method == request.method:
                with self._lock:
                    return handler(request, match)
        return error(
            404, "rest_no_route", "No route was found matching the URL and request method."
        )

    def _oauth_problem(self, request: Request) -> str | None:
        params = request.args.to_dict()
        signature = params.pop("oauth_signature", "")
        if params.get("oauth_consumer_key") not in self.keys:
            return "Consumer key is invalid."
        if abs(time.time() - int(params.get("oauth_timestamp", "0"))) > 15 * 60:
            return "Invalid timestamp."
        nonce = params.get("oauth_nonce", "")
        if not nonce or nonce in self._nonces:
            return "Invalid nonce - nonce has already been used."
        self._nonces.add(nonce)
        algorithm = {"HMAC-SHA256": hashlib.sha256, "HMAC-SHA1": hashlib.sha1}.get(
            params.get("oauth_signature_method", "")
        )
        if algorithm is None:
            return "Invalid signature - signature method is invalid."
        pairs = [(_encode(k), _encode(v)) for k, v in sorted(params.items())]
        base = quote(f"http://{request.host}{request.path}", safe="")
        signed = f"{request.method}&{base}&" + "%26".join(f"{k}%3D{v}" for k, v in pairs)
        key = f"{self.keys[params['oauth_consumer_key']][0]}&".encode()
        expected = base64.b64encode(hmac.new(key, signed.encode(), algorithm).digest()).decode()
        if not hmac.compare_digest(expected, signature):
            return "Invalid signature - provided signature does not match."
        return None

    def _permissions(self, request: Request) -> str:
        return self.keys[request.args["oauth_consumer_key"]][1]

    def later(self, request: Request, send: Callable[[], None]) -> None:
        """Run `send` after the handler, outside the lock (it talks to our app)."""
        request.environ["fake.later"].append(send)

    def add_key(self, permissions: str) -> tuple[str, str]:
        key, secret = "ck_" + secrets.token_hex(20), "cs_" + secrets.token_hex(20)
        self.keys[key] = (secret, permissions)
        return key, secret

    def touch_order(self, order_id: int, *, modified: datetime, **fields: Any) -> None:
        """Change an order behind the API's back (an admin edit): no webhook."""
        order = self._order(order_id)
        assert order is not None
        order.update(fields)
        order.update(
            date_modified=local_iso(modified, self.site_offset), date_modified_gmt=utc_iso(modified)
        )

    # --- coupons ---------------------------------------------------------------------------

    def _create_coupon(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        code = str(data.get("code") or "").strip().lower()
        if not code:
            return 400, _error_body(400, "woocommerce_rest_empty_coupon_code", "Empty code.")
        if code in self._refused:
            return 400, _error_body(400, *self._refused[code])
        if self._live_coupon(code) is not None:
            return 400, _error_body(
                400, "woocommerce_rest_coupon_code_already_exists", "The coupon code already exists"
            )
        coupon = coupon_record(next(self._ids), code, data, self.site_offset)
        self.coupons[coupon["id"]] = coupon
        return 201, coupon

    def _live_coupon(self, code: str) -> dict[str, Any] | None:
        for coupon in self.coupons.values():
            if coupon["code"] == code.strip().lower() and coupon["status"] == "publish":
                return coupon
        return None

    def _coupon_create(self, request: Request, match: re.Match[str]) -> Response:
        status, body = self._create_coupon(request.get_json())
        return json_response(body, status)

    def _coupons_list(self, request: Request, match: re.Match[str]) -> Response:
        code = request.args.get("code")
        coupons = [c for c in self.coupons.values() if c["status"] == "publish"]
        if code is not None:
            coupons = [c for c in coupons if c["code"] == code.strip().lower()]
        return json_response(coupons)

    def _coupon_get(self, request: Request, match: re.Match[str]) -> Response:
        coupon = self.coupons.get(int(match.group(1)))
        if coupon is None:
            return error(404, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
        return json_response(coupon)

    def _coupon_delete(self, request: Request, match: re.Match[str]) -> Response:
        coupon = self.coupons.get(int(match.group(1)))
        if coupon is None:
            return error(404, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
        if request.args.get("force") in ("true", "1"):
            del self.coupons[coupon["id"]]
        elif coupon["status"] == "trash":
            return error(410, "woocommerce_rest_already_trashed", "Already trashed.")
        else:
            coupon["status"] = "trash"
        return json_response(coupon)

    def _coupons_batch(self, request: Request, match: re.Match[str]) -> Response:
        body = request.get_json()
        if sum(len(body.get(part) or []) for part in ("create", "update", "delete")) > BATCH_LIMIT:
            return error(
                413,
                "woocommerce_rest_request_entity_too_large",
                f"Unable to accept more than {BATCH_LIMIT} items for this request.",
            )
        created = []
        for item in body.get("create") or []:
            self.batch_creates.append(str(item.get("code") or "").strip().lower())
            status, answer = self._create_coupon(item)
            created.append(answer if status == 201 else {"id": 0, "error": answer})
        return json_response({"create": created, "update": [], "delete": []})

    # --- webhooks --------------------------------------------------------------------------

    def _webhooks_list(self, request: Request, match: re.Match[str]) -> Response:
        return page_of(list(self.webhooks.values()), request)

    def _webhook_create(self, request: Request, match: re.Match[str]) -> Response:
        data = request.get_json()
        if not TOPIC.fullmatch(str(data.get("topic", ""))):
            return error(400, "woocommerce_rest_webhook_invalid_topic", "Webhook topic invalid.")
        if not str(data.get("delivery_url", "")).startswith(("http://", "https://")):
            return error(400, "rest_invalid_param", "Invalid parameter(s): delivery_url")
        hook = self.add_webhook(
            secret=data.get("secret") or secrets.token_urlsafe(37),
            name=data.get("name", ""),
            topic=data["topic"],
            delivery_url=data["delivery_url"],
            status=data.get("status", "active"),
        )
        if hook["status"] == "active":
            self.later(request, lambda: self.outbound.ping(hook))
        return json_response(hook, 201)

    def _webhook_update(self, request: Request, match: re.Match[str]) -> Response:
        hook = self.webhooks.get(int(match.group(1)))
        if hook is None:
            return error(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
        data = request.get_json()
        if data.get("status", "active") not in ("active", "paused", "disabled"):
            return error(400, "rest_invalid_param", "Invalid parameter(s): status")
        if "secret" in data:
            self.webhook_secrets[hook["id"]] = data["secret"]
        hook.update({k: data[k] for k in ("name", "topic", "delivery_url", "status") if k in data})
        if data.get("status") == "active":
            self.webhook_failures[hook["id"]] = 0
        return json_response(hook)

    def _webhook_delete(self, request: Request, match: re.Match[str]) -> Response:
        hook = self.webhooks.get(int(match.group(1)))
        if hook is None:
            return error(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
        if request.args.get("force") not in ("true", "1"):
            return error(
                501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing."
            )
        del self.webhooks[hook["id"]], self.webhook_secrets[hook["id"]]
        return json_response(hook)

    # --- orders and status -----------------------------------------------------------------

    def _orders_list(self, request: Request, match: re.Match[str]) -> Response:
        column = (
            "date_modified_gmt" if request.args.get("dates_are_gmt") == "true" else "date_modified"
        )
        after = request.args.get("modified_after")
        orders = [o for o in self.orders if after is None or o[column] > after]
        if request.args.get("orderby") == "modified":
            orders.sort(key=lambda o: (o["date_modified_gmt"], o["id"]))
        if request.args.get("order", "desc") == "desc":
            orders.reverse()
        return page_of(orders, request)

    def _order(self, order_id: int) -> dict[str, Any] | None:
        return next((order for order in self.orders if order["id"] == order_id), None)

    def _order_get(self, request: Request, match: re.Match[str]) -> Response:
        order = self._order(int(match.group(1)))
        if order is None:
            return error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return json_response(order)

    def _order_create(self, request: Request, match: re.Match[str]) -> Response:
        data = request.get_json()
        email = str((data.get("billing") or {}).get("email") or "")
        coupons = []
        for line in data.get("coupon_lines") or []:
            coupon = self._live_coupon(str(line.get("code") or ""))
            if coupon is None:
                message = f'Coupon "{str(line.get("code")).lower()}" does not exist!'
                return error(400, "woocommerce_rest_invalid_coupon", message)
            if coupon["email_restrictions"] and email.lower() not in coupon["email_restrictions"]:
                return error(400, "woocommerce_rest_invalid_coupon", "Coupon is not valid.")
            if coupon["usage_limit"] and coupon["usage_count"] >= int(coupon["usage_limit"]):
                message = "Coupon usage limit has been reached."
                return error(400, "woocommerce_rest_invalid_coupon", message)
            coupons.append(coupon)
        order = new_order(next(self._ids), self.site_offset, data, coupons)
        for coupon in coupons:
            coupon["usage_count"] += 1
            coupon["used_by"].append(email)
        self.orders.append(order)
        self._fire(request, "order.created", order["id"])
        return json_response(order, 201)

    def _order_update(self, request: Request, match: re.Match[str]) -> Response:
        order = self._order(int(match.group(1)))
        if order is None:
            return error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        data = request.get_json()
        now = datetime.now(tz=UTC)
        if "status" in data:
            order["status"] = data["status"]
        paid = data.get("set_paid") or order["status"] in ("processing", "completed")
        if paid and not order.get("date_paid_gmt"):
            order.update(date_paid=local_iso(now, self.site_offset), date_paid_gmt=utc_iso(now))
        order.update(date_modified=local_iso(now, self.site_offset), date_modified_gmt=utc_iso(now))
        self._fire(request, "order.updated", order["id"])
        return json_response(order)

    def _refund_create(self, request: Request, match: re.Match[str]) -> Response:
        order = self._order(int(match.group(1)))
        if order is None:
            return error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        amount = Decimal(str(request.get_json().get("amount") or order["total"]))
        refunded = sum((-Decimal(r["total"]) for r in order["refunds"]), Decimal(0))
        if amount <= 0 or refunded + amount > Decimal(order["total"]):
            return error(400, "woocommerce_rest_cannot_create_order_refund", "Invalid amount.")
        refund = {"id": next(self._ids), "reason": "", "total": f"-{_money(amount)}"}
        order["refunds"].append(refund)
        now = datetime.now(tz=UTC)
        if refunded + amount == Decimal(order["total"]):
            order["status"] = "refunded"
        order.update(date_modified=local_iso(now, self.site_offset), date_modified_gmt=utc_iso(now))
        self._fire(request, "order.updated", order["id"])  # woocommerce_order_refunded
        return json_response({"id": refund["id"], "amount": _money(amount), "reason": ""}, 201)

    def _fire(self, request: Request, topic: str, order_id: int) -> None:
        """Queue a delivery to every active webhook of `topic`; the body is built when sent."""
        for hook in list(self.webhooks.values()):
            if hook["topic"] == topic and hook["status"] == "active":
                self.later(request, lambda hook=hook: self.deliver(hook, order_id))

    def deliver(self, hook: dict[str, Any], order_id: int) -> int | None:
        """Send one delivery now, then count it as WooCommerce's `log_delivery` does."""
        with self._lock:
            order = json.loads(json.dumps(self._order(order_id)))
            secret = self.webhook_secrets[hook["id"]]
        status = self.outbound.deliver(hook, order, secret, self.url)
        with self._lock:
            if status is not None and 200 <= status < 303:
                self.webhook_failures[hook["id"]] = 0
            elif self.webhook_failures.get(hook["id"], 0) > MAX_FAILURES:
                hook["status"] = "disabled"
            else:
                self.webhook_failures[hook["id"]] = self.webhook_failures.get(hook["id"], 0) + 1
        return status

    def _setting(self, request: Request, match: re.Match[str]) -> Response:
        values = {
            ("general", "woocommerce_currency"): self.currency,
            ("email", "woocommerce_email_from_address"): self.admin_email,
        }
        key = (match.group(1), match.group(2))
        if key not in values:
            return error(404, "rest_setting_setting_invalid", "Invalid setting.")
        return json_response({"id": key[1], "value": values[key], "type": "text"})

    def _system_status(self, request: Request, match: re.Match[str]) -> Response:
        return json_response({"environment": {"home_url": self.url, "version": "8.9.0"}})


def page_of(items: list[dict[str, Any]], request: Request) -> Response:
    """One page of a collection with WordPress's X-WP-Total / X-WP-TotalPages headers."""
    per_page, page = int(request.args.get("per_page", "10")), int(request.args.get("page", "1"))
    if not 1 <= per_page <= 100:
        return error(400, "rest_invalid_param", "Invalid parameter(s): per_page")
    pages = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    headers = {"X-WP-Total": str(len(items)), "X-WP-TotalPages": str(pages)}
    return json_response(chunk, headers=headers)


def _encode(value: str) -> str:
    """PHP's rawurlencode, then `%` → `%25` (WooCommerce's normalize_parameters)."""
    return quote(value, safe="").replace("%", "%25")


def _error_body(status: int, code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "data": {"status": status}}


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(_error_body(status, code, message), status, headers)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers=headers, content_type="application/json")


# --- records, shaped like the REST docs' examples ------------------------------------------

ORDER_TEMPLATE = (
    Path(__file__).parent / "fixtures" / "woocommerce" / "order_updated__docs_sample.json"
)


def utc_iso(value: datetime) -> str:
    """WooCommerce's `*_gmt` form: UTC without an offset."""
    return value.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()


def local_iso(value: datetime, offset: timedelta) -> str:
    """WooCommerce's site-local form (no offset)."""
    return (value.astimezone(UTC) + offset).replace(tzinfo=None, microsecond=0).isoformat()


def _money(value: Any) -> str:
    return str(Decimal(str(value or "0")).quantize(Decimal("0.01")))


def _expiry(value: Any, offset: timedelta) -> datetime | None:
    """`date_expires` as WC_Data::set_date_prop reads it: an explicit offset is honoured,
    none means the site's timezone. (`date_expires_gmt` has no setter: it is ignored.)"""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        return (parsed - offset).replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def coupon_record(
    coupon_id: int, code: str, data: dict[str, Any], offset: timedelta
) -> dict[str, Any]:
    now = datetime.now(tz=UTC)
    expires = _expiry(data.get("date_expires"), offset)
    return {
        "id": coupon_id,
        "code": code,
        "status": "publish",
        "amount": _money(data.get("amount")),
        "date_created": local_iso(now, offset),
        "date_created_gmt": utc_iso(now),
        "discount_type": data.get("discount_type", "fixed_cart"),
        "description": data.get("description", ""),
        "date_expires": local_iso(expires, offset) if expires else None,
        "date_expires_gmt": utc_iso(expires) if expires else None,
        "usage_count": 0,
        "individual_use": bool(data.get("individual_use", False)),
        "product_ids": [int(p) for p in data.get("product_ids") or []],
        "usage_limit": data.get("usage_limit"),
        "usage_limit_per_user": data.get("usage_limit_per_user"),
        "limit_usage_to_x_items": data.get("limit_usage_to_x_items"),
        "free_shipping": bool(data.get("free_shipping", False)),
        "minimum_amount": _money(data.get("minimum_amount")),
        "maximum_amount": "0.00",
        "email_restrictions": list(data.get("email_restrictions") or []),
        "used_by": [],
        "meta_data": [
            {"id": index + 1, **meta} for index, meta in enumerate(data.get("meta_data") or [])
        ],
    }


def order_record(
    order_id: int,
    offset: timedelta,
    *,
    modified: datetime,
    status: str = "processing",
    coupon_codes: tuple[str, ...] = (),
    refunds: tuple[str, ...] = (),
    total: str = "50.00",
) -> dict[str, Any]:
    """The docs' order example with this id, status, modification time, coupons and refunds
    (amounts as positive strings; WooCommerce lists them negative)."""
    order = json.loads(ORDER_TEMPLATE.read_text())
    order.update(
        id=order_id,
        number=str(order_id),
        status=status,
        total=total,
        date_modified=local_iso(modified, offset),
        date_modified_gmt=utc_iso(modified),
        coupon_lines=[
            {
                "id": order_id * 10 + i,
                "code": code.lower(),
                "discount": "5.00",
                "discount_tax": "0.00",
                "discount_type": "percent",
                "nominal_amount": 10,
                "free_shipping": False,
                "meta_data": [],
            }
            for i, code in enumerate(coupon_codes)
        ],
        refunds=[
            {"id": order_id * 100 + i, "reason": "", "total": f"-{amount}"}
            for i, amount in enumerate(refunds)
        ],
    )
    return order


def new_order(
    order_id: int, offset: timedelta, data: dict[str, Any], coupons: list[dict[str, Any]]
) -> dict[str, Any]:
    """An order as `POST /orders` makes it: line totals, coupon discounts (percent of the
    subtotal or a fixed amount, lower-case codes), paid at once with `set_paid`."""
    now = datetime.now(tz=UTC)
    status = data.get("status") or ("processing" if data.get("set_paid") else "pending")
    order = order_record(order_id, offset, modified=now, status=status)
    lines = []
    for index, line in enumerate(data.get("line_items") or []):
        quantity = int(line.get("quantity") or 1)
        total = Decimal(str(line.get("total") or line.get("price") or "0")) * (
            1 if line.get("total") else quantity
        )
        lines.append(
            {"id": order_id * 10 + index, "name": line.get("name", "Item"),
             "product_id": int(line.get("product_id") or 0), "variation_id": 0,
             "quantity": quantity, "subtotal": _money(total), "total": _money(total),
             "taxes": [], "meta_data": []}
        )  # fmt: skip
    subtotal = sum((Decimal(line["total"]) for line in lines), Decimal(0))
    coupon_lines, discount_total = [], Decimal(0)
    for index, coupon in enumerate(coupons):
        amount = Decimal(coupon["amount"])
        discount = (subtotal * amount / 100) if coupon["discount_type"] == "percent" else amount
        discount = min(discount.quantize(Decimal("0.01")), subtotal - discount_total)
        discount_total += discount
        coupon_lines.append(
            {"id": order_id * 100 + index, "code": coupon["code"], "discount": _money(discount),
             "discount_tax": "0.00", "discount_type": coupon["discount_type"],
             "nominal_amount": float(amount), "free_shipping": coupon["free_shipping"],
             "meta_data": []}
        )  # fmt: skip
    billing = {**order["billing"], **(data.get("billing") or {})}
    order.update(
        line_items=lines, coupon_lines=coupon_lines, billing=billing,
        shipping={**order["shipping"], **(data.get("shipping") or {})},
        customer_id=int(data.get("customer_id") or 0), shipping_lines=[], tax_lines=[],
        fee_lines=[], discount_total=_money(discount_total), discount_tax="0.00",
        shipping_total="0.00", shipping_tax="0.00", total_tax="0.00", cart_tax="0.00",
        total=_money(subtotal - discount_total), date_created=local_iso(now, offset),
        date_created_gmt=utc_iso(now), meta_data=list(data.get("meta_data") or []),
        date_paid=local_iso(now, offset) if status in ("processing", "completed") else None,
        date_paid_gmt=utc_iso(now) if status in ("processing", "completed") else None,
        currency=data.get("currency", order["currency"]), created_via="rest-api",
    )  # fmt: skip
    return order
