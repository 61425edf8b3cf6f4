"""A local Shopify `graphql.json` that executes our documents against the real 2026-01 schema,
with an access-token check, a leaky cost bucket, THROTTLED/429/503 faults, TAKEN user errors,
code lookups, asynchronous bulk code creation, customers found by email and paginated orders;
plus the shop's OAuth endpoints (`tests/shopify_fake_oauth.py`: grant page, code, refresh and
token exchange) and a bare storefront: the shareable discount link `/discount/<code>?redirect=`
(puts the code in a `discount_code` cookie, then redirects to the path) and a home page that
shows the code the next checkout would apply."""

from __future__ import annotations

import base64
import functools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

from graphql import GraphQLSchema, build_schema, graphql_sync, parse
from graphql.language import OperationDefinitionNode

from tests.shopify_fake_oauth import FakeShopifyOAuth

SDL = Path(__file__).resolve().parent / "fixtures" / "shopify" / "admin-2026-01.graphql"
TOKEN = "shpat_test_token"


@functools.cache
def admin_schema() -> GraphQLSchema:
    """The 2026-01 Admin schema, built once per test session (about 2 s).

    `assume_valid=True`: graphql-core 3.3 otherwise rejects Shopify's own schema under its
    newer "deprecated interface field" rule before validating any document."""
    return build_schema(SDL.read_text(encoding="utf-8"), assume_valid=True)


@dataclass
class FakeClock:
    """Shared by the client (clock and sleep) and the fake's bucket: sleeping advances time."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class Fault:
    """A scripted answer for the next request: an HTTP status, or a delay after processing."""

    status: int | None = None
    retry_after: str | None = None
    delay_after: float = 0.0  # process the request, then answer this late (client timeout)


@dataclass
class FakeShopify:
    clock: FakeClock = field(default_factory=FakeClock)
    maximum: float = 1000.0
    restore_rate: float = 100.0
    costs: dict[str, float] = field(default_factory=dict)  # root field -> requested cost
    bulk_polls_pending: int = 1  # polls answering done: false before done: true
    discounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    bulk: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, set[str]] = field(default_factory=dict)
    credits: list[dict[str, Any]] = field(default_factory=list)
    customers: dict[str, str] = field(default_factory=dict)  # email (lower case) -> GID
    faults: deque[Fault] = field(default_factory=deque)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # executed calls
    throttled: int = 0
    reject_next: dict[str, Any] | None = None  # a userError for the next discount create
    available: float | None = None
    oauth: FakeShopifyOAuth = field(default_factory=FakeShopifyOAuth)
    shop_info: dict[str, Any] = field(
        default_factory=lambda: {
            "currencyCode": "EUR",
            "name": "Demo Store",
            "email": "owner@demo-store.example",
        }
    )
    _restored_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- HTTP ------------------------------------------------------------------------------

    def handle(self, token: str | None, body: bytes) -> tuple[int, dict[str, str], Any, float]:
        """(status, headers, JSON body, delay before answering) for one POST."""
        if token != TOKEN and not self.oauth.access_token_valid(token):
            return 401, {}, {"errors": "[API] Invalid API key or access token"}, 0.0
        with self._lock:
            fault = self.faults.popleft() if self.faults else Fault()
            if fault.status is not None:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return fault.status, headers, {"errors": "unavailable"}, 0.0
            return 200, {}, self._graphql(json.loads(body)), fault.delay_after

    def calls_to(self, root: str) -> list[dict[str, Any]]:
        return [variables for name, variables in self.calls if name == root]

    def _graphql(self, request: dict[str, Any]) -> dict[str, Any]:
        document = parse(request["query"])
        root = _root_field(document)
        cost = self.costs.get(root, 10.0)
        available = self._restore()
        if available < cost:
            self.throttled += 1
            error = {"message": "Throttled", "extensions": {"code": "THROTTLED"}}
            return {"errors": [error], "extensions": self._cost(cost, None)}
        self.available = available - cost
        variables = request.get("variables") or {}
        result = graphql_sync(
            admin_schema(), request["query"], root_value=self._root(), variable_values=variables
        )
        if result.errors:
            errors = [
                {"message": e.message, "extensions": {"code": "INVALID"}} for e in result.errors
            ]
            return {"errors": errors, "extensions": self._cost(cost, None)}
        self.calls.append((root, variables))
        return {"data": result.data, "extensions": self._cost(cost, cost)}

    def _restore(self) -> float:
        now = self.clock()
        if self.available is None:
            self.available = self.maximum
        elif self._restored_at is not None:
            self.available = min(
                self.maximum, self.available + (now - self._restored_at) * self.restore_rate
            )
        self._restored_at = now
        return self.available

    def _cost(self, requested: float, actual: float | None) -> dict[str, Any]:
        status = {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": self.available,
            "restoreRate": self.restore_rate,
        }
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": status,
            }
        }

    # -- resolvers (the schema validates arguments and shapes every answer) ----------------

    def _root(self) -> dict[str, Any]:
        return {
            "shop": lambda _info: dict(self.shop_info),
            "discountCodeBasicCreate": lambda _info, basicCodeDiscount: self._create(
                "DiscountCodeBasic", basicCodeDiscount
            ),
            "discountCodeFreeShippingCreate": lambda _info, freeShippingCodeDiscount: self._create(
                "DiscountCodeFreeShipping", freeShippingCodeDiscount
            ),
            "codeDiscountNodeByCode": lambda _info, code: self._node(self.by_code(code)),
            "discountCodeDeactivate": lambda _info, id: self._deactivate(id),
            "discountRedeemCodeBulkAdd": lambda _info, discountId, codes: self._bulk_add(
                discountId, [c["code"] for c in codes]
            ),
            "discountRedeemCodeBulkCreation": lambda _info, id: self._bulk_status(id),
            "customerByIdentifier": lambda _info, identifier: self._customer(identifier),
            "tagsAdd": lambda _info, id, tags: self._tags(id, tags, add=True),
            "tagsRemove": lambda _info, id, tags: self._tags(id, tags, add=False),
            "storeCreditAccountCredit": lambda _info, id, creditInput: self._credit(
                id, creditInput
            ),
            "orders": lambda _info, query, first, after=None, **_: self._orders(
                query, first, after
            ),
        }

    def by_code(self, code: str) -> dict[str, Any] | None:
        """The discount holding `code`, ignoring case (like Shopify)."""
        wanted = code.upper()
        for discount in self.discounts.values():
            if wanted in (c.upper() for c in discount["codes"]):
                return discount
        return None

    def _create(self, typename: str, discount: dict[str, Any]) -> dict[str, Any]:
        if self.reject_next is not None:
            error, self.reject_next = self.reject_next, None
            return {"codeDiscountNode": None, "userErrors": [error]}
        value = ((discount.get("customerGets") or {}).get("value")) or {}
        if "percentage" in value and not 0 <= value["percentage"] <= 1:
            error = {
                "field": ["customerGets"],
                "code": "VALUE_OUTSIDE_RANGE",
                "message": "Value must be between 0.0 and 1.0",
                "extraInfo": None,
            }
            return {"codeDiscountNode": None, "userErrors": [error]}
        if self.by_code(discount["code"]) is not None:
            error = {
                "field": ["code"],
                "code": "TAKEN",
                "message": "Code must be unique. Please try a different code.",
                "extraInfo": None,
            }
            return {"codeDiscountNode": None, "userErrors": [error]}
        node_id = f"gid://shopify/DiscountCodeNode/{len(self.discounts) + 1}"
        self.discounts[node_id] = {
            "id": node_id,
            "typename": typename,
            "title": discount["title"],
            "codes": [discount["code"]],
            "status": "ACTIVE",
            "input": discount,
        }
        return {"codeDiscountNode": {"id": node_id}, "userErrors": []}

    @staticmethod
    def _node(discount: dict[str, Any] | None) -> dict[str, Any] | None:
        if discount is None:
            return None
        code_discount = {
            "__typename": discount["typename"],
            "title": discount["title"],
            "status": discount["status"],
        }
        return {"id": discount["id"], "codeDiscount": code_discount}

    def _deactivate(self, node_id: str) -> dict[str, Any]:
        discount = self.discounts.get(node_id)
        if discount is None:
            error = {
                "field": ["id"],
                "code": None,
                "message": "Code discount does not exist.",
                "extraInfo": None,
            }
            return {"codeDiscountNode": None, "userErrors": [error]}
        discount["status"] = "EXPIRED"
        return {"codeDiscountNode": {"id": node_id}, "userErrors": []}

    def _bulk_add(self, discount_id: str, codes: list[str]) -> dict[str, Any]:
        if len(codes) > 250:
            error = {
                "field": ["codes"],
                "code": "TOO_MANY_ARGUMENTS",
                "message": "Codes must have at most 250 items",
                "extraInfo": None,
            }
            return {"bulkCreation": None, "userErrors": [error]}
        results = []
        for code in codes:
            taken = self.by_code(code) is not None
            if not taken:
                self.discounts[discount_id]["codes"].append(code)
            errors = [{"code": "TAKEN", "message": "Code must be unique"}] if taken else []
            results.append({"code": code, "errors": errors})
        bulk_id = f"gid://shopify/DiscountRedeemCodeBulkCreation/{len(self.bulk) + 1}"
        self.bulk[bulk_id] = {"results": results, "pending": self.bulk_polls_pending}
        return {"bulkCreation": {"id": bulk_id, "done": False}, "userErrors": []}

    def _bulk_status(self, bulk_id: str) -> dict[str, Any]:
        job = self.bulk[bulk_id]
        done = job["pending"] <= 0
        job["pending"] -= 1
        failed = [r for r in job["results"] if r["errors"]] if done else []
        return {
            "id": bulk_id,
            "done": done,
            "codesCount": len(job["results"]),
            "importedCount": len(job["results"]) - len(failed) if done else 0,
            "failedCount": len(failed),
            "codes": {"nodes": job["results"] if done else []},
        }

    def _customer(self, identifier: dict[str, Any]) -> dict[str, Any] | None:
        """The customer with this email address (Shopify matches it in any case)."""
        gid = self.customers.get(str(identifier.get("emailAddress") or "").lower())
        return None if gid is None else {"id": gid}

    def storefront(self, path: str, cookie: str | None) -> tuple[int, dict[str, str], str]:
        """(status, headers, HTML) of the shop's storefront for a GET of `path`."""
        parts = urlsplit(path)
        if parts.path.startswith("/discount/"):
            code = unquote(parts.path[len("/discount/") :])
            target = parse_qs(parts.query).get("redirect", ["/"])[0]
            if not target.startswith("/"):  # Shopify redirects within the store only
                target = "/"
            headers = {"Location": target, "Set-Cookie": f"discount_code={code}; Path=/"}
            return 302, headers, ""
        if parts.path != "/":
            return 404, {}, "<h1>404 Page Not Found</h1>"
        code = (cookie or "").partition("discount_code=")[2].split(";")[0]
        discount = self.by_code(code) if code else None
        applied = discount is not None and discount["status"] == "ACTIVE"
        words = f"Discount {escape(code)} applied" if applied else "No discount"
        ref = escape(parse_qs(parts.query).get("ref", [""])[0])
        name = escape(str(self.shop_info["name"]))
        page = f'<h1>{name}</h1><p id="discount">{words}</p><p id="ref">ref={ref}</p>'
        return 200, {}, f"<!doctype html><html><body>{page}</body></html>"

    def _tags(self, customer: str, tags: list[str], *, add: bool) -> dict[str, Any]:
        held = self.tags.setdefault(customer, set())
        held.update(tags) if add else held.difference_update(tags)
        return {"node": {"__typename": "Customer", "id": customer}, "userErrors": []}

    def _credit(self, customer: str, credit: dict[str, Any]) -> dict[str, Any]:
        self.credits.append({"customer": customer, **credit})
        transaction = f"gid://shopify/StoreCreditAccountCreditTransaction/{len(self.credits)}"
        return {"storeCreditAccountTransaction": {"id": transaction}, "userErrors": []}

    def _orders(self, query: str, first: int, after: str | None) -> dict[str, Any]:
        match = re.fullmatch(r"updated_at:>='([^']+)'", query)
        assert match, query
        since = match.group(1)
        due = sorted(
            (o for o in self.orders if o["updatedAt"] >= since), key=lambda o: o["updatedAt"]
        )
        start = int(base64.b64decode(after)) if after else 0
        page = due[start : start + first]
        end = start + len(page)
        return {
            "pageInfo": {
                "hasNextPage": end < len(due),
                "endCursor": base64.b64encode(str(end).encode()).decode(),
            },
            "nodes": page,
        }


def _root_field(document: Any) -> str:
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    return operation.selection_set.selections[0].name.value


@contextmanager
def serving(fake: FakeShopify) -> Iterator[str]:
    """Serve `fake` on 127.0.0.1; yields its graphql.json URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if urlsplit(self.path).path != "/admin/oauth/authorize":
                status, headers, page = fake.storefront(self.path, self.headers.get("Cookie"))
                self._send(status, headers, page.encode(), "text/html")
                return
            self._send(200, {}, fake.oauth.grant_page().encode(), "text/html")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if urlsplit(self.path).path == "/admin/oauth/access_token":
                status, answer = fake.oauth.token(_form_or_json(raw, self.headers))
                self._send(status, {}, json.dumps(answer).encode(), "application/json")
                return
            token = self.headers.get("X-Shopify-Access-Token")
            status, headers, payload, delay = fake.handle(token, raw)
            if delay:
                time.sleep(delay)
            self._send(status, headers, json.dumps(payload).encode(), "application/json")

        def _send(self, status: int, headers: dict[str, str], body: bytes, kind: str) -> None:
            try:
                self.send_response(status)
                for name, value in {**headers, "Content-Type": kind}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/admin/api/2026-01/graphql.json"
    finally:
        server.shutdown()
        server.server_close()


def origin_of(url: str) -> str:
    """`http://127.0.0.1:PORT` of a URL `serving` yielded (the fake shop's origin)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _form_or_json(raw: bytes, headers: Any) -> dict[str, Any]:
    """The token request's fields: Shopify takes JSON or a form body."""
    if (headers.get("Content-Type") or "").startswith("application/json"):
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}
    return dict(parse_qsl(raw.decode()))


def graphql_order(
    order_id: int,
    updated_at: str,
    *,
    codes: tuple[str, ...] = (),
    subtotal: str = "100.00",
    total: str = "90.00",
    status: str = "PAID",
    customer_id: int | None = 7001,
    refunds: tuple[tuple[int, str], ...] = (),
) -> dict[str, Any]:
    """A GraphQL Order node with the fields ORDERS_UPDATED_SINCE selects."""

    def money(amount: str) -> dict[str, Any]:
        return {"shopMoney": {"amount": amount, "currencyCode": "EUR"}}

    return {
        "id": f"gid://shopify/Order/{order_id}",
        "legacyResourceId": str(order_id),
        "name": f"#{order_id}",
        "createdAt": "2026-11-01T09:00:00Z",
        "updatedAt": updated_at,
        "cancelledAt": None,
        "cancelReason": None,
        "displayFinancialStatus": status,
        "test": False,
        "email": "friend@example.com",
        "sourceName": "web",
        "clientIp": "203.0.113.9",
        "currencyCode": "EUR",
        "discountCodes": list(codes),
        "subtotalPriceSet": money(subtotal),
        "totalPriceSet": money(total),
        "currentTotalPriceSet": money(total),
        "totalDiscountsSet": money("10.00"),
        "customer": None
        if customer_id is None
        else {
            "legacyResourceId": str(customer_id),
            "numberOfOrders": "1",
            "defaultEmailAddress": {"emailAddress": "friend@example.com"},
        },
        "shippingAddress": {
            "address1": "1 Main St",
            "address2": None,
            "zip": "10115",
            "countryCodeV2": "DE",
        },
        "billingAddress": {"countryCodeV2": "DE"},
        "customAttributes": [{"key": "ref", "value": "ANNA-7Q2K"}],
        "customerJourneySummary": {
            "firstVisit": {"landingPage": "https://shop.test/?ref=ANNA-7Q2K"}
        },
        "lineItems": {
            "pageInfo": {"hasNextPage": False},
            "nodes": [
                {
                    "quantity": 2,
                    "originalUnitPriceSet": money("50.00"),
                    "totalDiscountSet": money("10.00"),
                    "product": {"legacyResourceId": "632910392"},
                    "variant": {"legacyResourceId": "808950810"},
                }
            ],
        },
        "refunds": [
            {
                "legacyResourceId": str(refund_id),
                "createdAt": updated_at,
                "transactions": {
                    "nodes": [{"kind": "REFUND", "status": "SUCCESS", "amountSet": money(amount)}]
                },
            }
            for refund_id, amount in refunds
        ],
    }
