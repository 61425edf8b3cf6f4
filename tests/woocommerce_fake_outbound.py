"""What FakeWooCommerce sends to our app, built as WooCommerce builds it.

- Webhook deliveries (`class-wc-webhook.php::deliver`): POST, body `trim(wp_json_encode(...))`
  (PHP's json_encode: `/` escaped as `\\/`, non-ASCII as `\\uXXXX`), `Content-Type:
  application/json`, the `X-WC-Webhook-*` headers, `X-WC-Webhook-Signature` =
  base64(HMAC-SHA256(body, secret)), a Delivery-ID that is `wp_hash(webhook_id . time())`
  (not unique), redirects NOT followed, 200-302 counted as success.
- The ping (`deliver_ping`): form body `webhook_id=N`, only a User-Agent, no signature.
- The key flow (`class-wc-auth.php`): `/wc-auth/v1/authorize` checks its five parameters and an
  https callback, creates a key, POSTs it as JSON to the callback (60 s), deletes it and shows
  "Error: ..." (401) unless the answer is exactly 200, else redirects to `return_url` with
  `success=1&user_id=...`; a declined request redirects with `success=0`.

Our public https address is reached through `Outbound.routes` (public prefix → local http URL),
like a TLS-terminating proxy in front of the app.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from tests.woocommerce_fake import FakeWooCommerce

AUTHORIZE_PATH = "/wc-auth/v1/authorize"
USER_AGENT = "WooCommerce/8.9.0 Hookshot (WordPress/6.5.3)"
SCOPES = ("read", "write", "read_write")


def php_json(value: Any) -> bytes:
    """`wp_json_encode` with PHP's default flags, as WooCommerce signs and sends it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


@dataclass
class SentDelivery:
    webhook_id: int
    topic: str
    status: int | None  # None: no HTTP answer (refused, timed out)
    body: bytes


@dataclass
class Outbound:
    routes: dict[str, str]
    deliveries: list[SentDelivery] = field(default_factory=list)
    pings: list[tuple[int, int | None]] = field(default_factory=list)
    callbacks: list[tuple[dict[str, Any], int | None]] = field(default_factory=list)

    def local(self, url: str) -> str:
        for public, local in self.routes.items():
            if url.startswith(public):
                return local + url[len(public) :]
        return url

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int | None:
        try:
            answer = requests.post(
                self.local(url), data=body, headers=headers, timeout=timeout, allow_redirects=False
            )
        except Exception:  # WP_Error: refused, timed out, or a host this machine may not reach
            return None
        return answer.status_code

    def ping(self, hook: dict[str, Any]) -> None:
        body = f"webhook_id={hook['id']}".encode()
        headers = {
            "User-Agent": USER_AGENT,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        self.pings.append((hook["id"], self.post(hook["delivery_url"], body, headers, 5)))

    def deliver(self, hook: dict[str, Any], payload: Any, secret: str, home_url: str) -> int | None:
        body = php_json(payload)
        resource, event = hook["topic"].split(".")
        signature = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        headers = {
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json",
            "X-WC-Webhook-Source": home_url.rstrip("/") + "/",
            "X-WC-Webhook-Topic": hook["topic"],
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-WC-Webhook-ID": str(hook["id"]),
            "X-WC-Webhook-Delivery-ID": hashlib.md5(  # noqa: S324 - wp_hash stand-in
                f"{hook['id']}{int(time.time())}".encode()
            ).hexdigest(),
        }
        status = self.post(hook["delivery_url"], body, headers, 60)
        self.deliveries.append(SentDelivery(hook["id"], hook["topic"], status, body))
        return status


def authorize(store: FakeWooCommerce, request: Request) -> Response:
    """`GET /wc-auth/v1/authorize`, with a logged-in administrator who approves at once
    (`store.approve_auth`) or declines."""
    params = request.args
    for name in ("app_name", "scope", "user_id", "return_url", "callback_url"):
        if not params.get(name):
            return _die(400, f"Missing parameter {name}")
    if params["scope"] not in SCOPES:
        return _die(400, f"Invalid scope {params['scope']}")
    if not params["callback_url"].startswith("https://"):
        return _die(400, "The callback_url needs to be over SSL")
    if not store.approve_auth:
        return _back(params["return_url"], success="0", user_id=params["user_id"])
    key, secret = store.add_key(params["scope"])
    data = {
        "key_id": len(store.keys),
        "user_id": params["user_id"],
        "consumer_key": key,
        "consumer_secret": secret,
        "key_permissions": params["scope"],
    }
    headers = {"Content-Type": "application/json;charset=UTF-8", "User-Agent": USER_AGENT}
    status = store.outbound.post(params["callback_url"], php_json(data), headers, 60)
    store.outbound.callbacks.append((data, status))
    if status != 200:
        del store.keys[key]  # maybe_delete_key
        return _die(
            401,
            "An error occurred in the request and at the time were unable to send the "
            "consumer data",
        )
    return _back(params["return_url"], success="1", user_id=params["user_id"])


def _back(return_url: str, **query: str) -> Response:
    separator = "&" if "?" in return_url else "?"
    return Response("", 302, headers={"Location": return_url + separator + urlencode(query)})


def _die(status: int, message: str) -> Response:
    page = f"<html><body><p>Error: {message}.</p></body></html>"
    return Response(page, status, content_type="text/html")
