"""WooCommerceStoreClient: the StoreClient seam on WooCommerce REST v3 (coupons and orders).

Idempotency: reward codes are ours (derived from the reward id), so a create whose answer was
lost is repeated and answered `woocommerce_rest_coupon_code_already_exists`; the coupon is then
looked up by code and accepted when it grants the same thing. Friend codes go in batches of at
most 100 (WooCommerce answers 413 above that); per-item errors come back inside a 200.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from referral_plugin.domain.store import (
    FriendCodeOffer,
    FriendCodesRejected,
    IssuedReward,
    RewardCodeRequest,
    StoreClientError,
    StoreOrder,
    StoreUnavailable,
)
from referral_plugin.settings import Settings

from ..base import TranslationError
from ..payload import timestamp
from .coupons import friend_coupon, reward_coupon, same_grant, store_code
from .orders import IGNORED_STATUSES
from .rest_client import WooCommerceRestClient
from .webhooks_api import ensure_webhooks

logger = logging.getLogger(__name__)

ALREADY_EXISTS = "woocommerce_rest_coupon_code_already_exists"
BATCH_LIMIT = 100  # items per batch request, across create/update/delete
PAGE_SIZE = 100  # the REST API's largest per_page
RECONCILED_TOPIC = "order.updated"


class WooCommerceStoreClient:
    """One WooCommerce store. Every method raises StoreClientError / StoreUnavailable."""

    def __init__(
        self,
        rest: WooCommerceRestClient,
        *,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.rest = rest
        self.store_url = rest.store_url
        self._page_size = page_size

    def issue_reward(self, request: RewardCodeRequest) -> IssuedReward:
        """Create the reward's coupon. Returns our code (WooCommerce matches it in any case)
        and the coupon id. Idempotent on `request.code`: an existing coupon with the same
        grant is accepted; one with another grant raises StoreClientError(code="code_taken")."""
        wanted = reward_coupon(request)
        try:
            created = self.rest.post("coupons", wanted).payload
        except StoreClientError as error:
            if error.code != ALREADY_EXISTS:
                raise
            created = self._existing_coupon(wanted)
        return IssuedReward(code=request.code, store_ref=str(created["id"]))

    def _existing_coupon(self, wanted: Mapping[str, Any]) -> Mapping[str, Any]:
        found = self.find_coupon(str(wanted["code"]))
        if found is None:  # reported as existing, yet the lookup misses it (cache lag, draft)
            raise StoreClientError(
                f"coupon {wanted['code']} exists but GET /coupons?code= does not return it; if "
                "it stays so, publish or delete that coupon in WooCommerce",
                retryable=True,
                code=ALREADY_EXISTS,
            )
        if not same_grant(found, wanted):
            raise StoreClientError(
                f"coupon {wanted['code']} already exists with another discount",
                retryable=False,
                status=400,
                code="code_taken",
            )
        return found

    def find_coupon(self, code: str) -> Mapping[str, Any] | None:
        """The coupon with this code (ignoring case), or None."""
        wanted = store_code(code)
        found = self.rest.get("coupons", {"code": wanted}).payload or []
        for coupon in found:
            if isinstance(coupon, Mapping) and store_code(str(coupon.get("code"))) == wanted:
                return coupon
        return None

    def revoke_reward(self, store_ref: str, code: str | None) -> None:
        """Delete the coupon for good (`force=true`: no trash, the code is freed). Idempotent:
        WooCommerce's 404 for an unknown coupon id counts as revoked."""
        try:
            self.rest.delete(f"coupons/{int(store_ref)}", {"force": "true"})
        except StoreClientError as error:
            if error.status == 404 and (error.code or "").startswith("woocommerce_rest_"):
                return  # already gone (rest_no_route or an HTML 404 still raises)
            raise
        except ValueError as exc:
            raise StoreClientError(
                f"{store_ref!r} is not a WooCommerce coupon id", retryable=False, code="bad_ref"
            ) from exc

    def add_friend_codes(self, offer: FriendCodeOffer, codes: Sequence[str]) -> None:
        """Create a coupon per code with the program's friend offer (`coupons.friend_coupon`),
        in batches of at most 100. Idempotent: a code that already exists counts as added when
        its coupon grants the same offer; one granting something else (the merchant's own
        coupon) is refused as `code_taken`. Raises FriendCodesRejected after every batch when
        some codes were refused for good (the others were added), StoreClientError for a
        failure of a whole batch or a retryable per-item error."""
        unique = list(dict.fromkeys(store_code(code) for code in codes if code.strip()))
        rejected: dict[str, str] = {}
        for start in range(0, len(unique), BATCH_LIMIT):
            wanted = [friend_coupon(code, offer) for code in unique[start : start + BATCH_LIMIT]]
            answer = self.rest.post("coupons/batch", {"create": wanted}).payload or {}
            for coupon, error in _batch_errors(wanted, answer.get("create") or []):
                reason = self._refusal(coupon, error)
                if reason is not None:
                    rejected[str(coupon["code"])] = reason
        if rejected:
            raise FriendCodesRejected(rejected)

    def _refusal(self, wanted: Mapping[str, Any], error: Mapping[str, Any]) -> str | None:
        """Why one batch item is refused for good, or None when it counts as added. Raises
        a retryable StoreClientError for a per-item 429/5xx."""
        error_code = str(error.get("code") or "")
        if error_code == ALREADY_EXISTS:
            try:
                self._existing_coupon(wanted)
            except StoreClientError as taken:
                if taken.retryable:
                    raise
                return f"{taken.code}: {taken}"  # the merchant's coupon with another grant
            return None
        status = (error.get("data") or {}).get("status")
        if isinstance(status, int) and (status == 429 or status >= 500):
            raise StoreClientError(
                f"friend code {wanted['code']}: {error_code or 'error'}",
                retryable=True,
                status=status,
                code=error_code or None,
            )
        return f"{error_code or 'error'}: {error.get('message', '')}"[:500]

    def ensure_webhooks(self, delivery_url: str, secret: str) -> list[int]:
        """Our order webhooks exist, are active and deliver to `delivery_url` signed with
        `secret` (`webhooks_api.ensure_webhooks`); returns their ids."""
        return ensure_webhooks(self.rest, delivery_url, secret)

    def orders_updated_since(self, since: datetime) -> Iterator[StoreOrder]:
        """Orders modified at or after `since` (GMT), oldest first, 100 per page, until
        `X-WP-TotalPages` says there is no more; `checkout-draft` and other draft orders are
        skipped. Each order is what an `order.updated` webhook would carry (same JSON, same
        X-WC headers).

        Paging moves a cursor instead of counting pages: an order modified while we read
        jumps to the end of the `modified` order, which shifts the rest one place forward, so
        reading page N+1 would skip one order. After each page the next read starts again just
        before the newest second seen (`modified_after` is exclusive and to the second); a
        page whose orders all share one second is stepped through by page number. Orders read
        twice are yielded once."""
        floor = since.astimezone(UTC).replace(microsecond=0)
        cursor, page = floor - timedelta(seconds=1), 1
        seen: set[tuple[str, datetime]] = set()
        while True:
            query = _orders_query(_gmt(cursor), page, self._page_size)
            answer = self.rest.get("orders", query)
            orders = [order for order in answer.payload or [] if isinstance(order, Mapping)]
            for order in orders:
                stored = self._store_order(order)
                if stored is None or stored.updated_at < floor:
                    continue
                if (stored.order_id, stored.updated_at) not in seen:
                    seen.add((stored.order_id, stored.updated_at))
                    yield stored
            if not orders or page >= answer.total_pages:
                return
            newest = max((_modified(order) for order in orders), default=None)
            if newest is not None and newest - timedelta(seconds=1) > cursor:
                cursor, page = newest - timedelta(seconds=1), 1
            else:
                page += 1

    def _store_order(self, order: Any) -> StoreOrder | None:
        if not isinstance(order, Mapping) or order.get("status") in IGNORED_STATUSES:
            return None
        updated = timestamp(order.get("date_modified_gmt"), "date_modified_gmt")
        if updated is None:
            return None
        return StoreOrder(
            order_id=str(order["id"]),
            topic=RECONCILED_TOPIC,
            body=json.dumps(order, ensure_ascii=False, separators=(",", ":")).encode(),
            updated_at=updated,
            headers={
                "X-WC-Webhook-Source": self.store_url + "/",
                "X-WC-Webhook-Topic": RECONCILED_TOPIC,
                "X-WC-Webhook-Resource": "order",
                "X-WC-Webhook-Event": "updated",
            },
        )


def _gmt(value: datetime) -> str:
    """WooCommerce's GMT form for `modified_after` with `dates_are_gmt`: no offset."""
    return value.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()


def _modified(order: Mapping[str, Any]) -> datetime | None:
    try:
        return timestamp(order.get("date_modified_gmt"), "date_modified_gmt")
    except TranslationError:
        return None


def _orders_query(after: str, page: int, per_page: int) -> dict[str, str | int]:
    # dates_are_gmt: without it `modified_after` is compared in the site's timezone.
    return {
        "modified_after": after,
        "dates_are_gmt": "true",
        "per_page": per_page,
        "page": page,
        "orderby": "modified",
        "order": "asc",
    }


def _batch_errors(
    wanted: Sequence[Mapping[str, Any]], results: Sequence[Any]
) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(coupon asked for, its error) per failed item; answers come in request order, each a
    coupon or `{"id": 0, "error": {...}}`."""
    if len(results) != len(wanted):
        raise StoreClientError(
            f"the batch answer lists {len(results)} items for {len(wanted)} codes",
            retryable=True,
            code="batch_mismatch",
        )
    for coupon, result in zip(wanted, results, strict=True):
        error = result.get("error") if isinstance(result, Mapping) else None
        if error:
            yield coupon, error if isinstance(error, Mapping) else {"message": str(error)}


def make_woocommerce_store_client(
    store_url: str, credentials: dict[str, str], settings: Settings
) -> WooCommerceStoreClient:
    """The registry's factory: a client for `store_url` with the shop's decrypted keys.
    Raises StoreUnavailable when the keys are missing."""
    key = credentials.get("consumer_key", "")
    secret = credentials.get("consumer_secret", "")
    if not key or not secret:
        raise StoreUnavailable("the store has no WooCommerce API keys: reconnect the store")
    return WooCommerceStoreClient(WooCommerceRestClient(store_url, key, secret))
