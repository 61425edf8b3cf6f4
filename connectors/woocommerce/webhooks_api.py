"""Our webhook subscriptions in a WooCommerce store, and the connect-time key check.

WooCommerce never retries a delivery and sets a webhook to `disabled` after 7 consecutive
failures, so `ensure_webhooks` is run on connect and again by the worker: it creates missing
subscriptions, re-activates disabled ones and repoints ours that deliver elsewhere.

Which webhooks are ours: those named with `NAME_PREFIX` or delivering to our URL. WooCommerce
never returns a webhook's secret, so a wrong secret cannot be detected from the API; a webhook
we adopt or repoint gets our secret written again, and `force_secret=True` rewrites it on every
one of ours (used when the store's secret was just generated). Webhooks `paused` by the
merchant are left paused: that is their choice (reconciliation still reads the orders).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from referral_plugin.domain.store import StoreClientError, StoreUnavailable

from .rest_client import WooCommerceRestClient

logger = logging.getLogger(__name__)

NAME_PREFIX = "referral-plugin"
# The key of the per-store webhook secret in the shop's stored credentials.
WEBHOOK_SECRET_KEY = "webhook_secret"  # noqa: S105 - a key name, not a secret
DEFAULT_TOPICS = ("order.created", "order.updated", "order.deleted")
PAGE_SIZE = 100

Webhook = Mapping[str, Any]


def ensure_webhooks(
    client: WooCommerceRestClient,
    delivery_url: str,
    secret: str,
    topics: Sequence[str] = DEFAULT_TOPICS,
    *,
    force_secret: bool = False,
) -> list[int]:
    """Make exactly one active-or-paused webhook of ours per topic deliver to `delivery_url`
    signed with `secret`. Returns their ids in `topics` order. Idempotent: a second run with
    nothing changed sends no writes. Duplicates of ours for a topic are deleted. Raises
    StoreClientError / StoreUnavailable."""
    ours = [hook for hook in list_webhooks(client) if _is_ours(hook, delivery_url)]
    ids = []
    for topic in topics:
        candidates = [hook for hook in ours if hook.get("topic") == topic]
        keeper = _pick(candidates, delivery_url)
        for extra in (hook for hook in candidates if hook is not keeper):
            client.delete(f"webhooks/{int(extra['id'])}", {"force": "true"})
        if keeper is None:
            created = client.post("webhooks", _new_webhook(topic, delivery_url, secret)).payload
            ids.append(int(created["id"]))
            continue
        changes = _changes(keeper, topic, delivery_url, secret, force_secret)
        if changes:
            client.put(f"webhooks/{int(keeper['id'])}", changes)
        ids.append(int(keeper["id"]))
    logger.info("woocommerce webhooks ensured", extra={"store": client.store_url, "ids": ids})
    return ids


def list_webhooks(client: WooCommerceRestClient) -> Iterator[Webhook]:
    """Every webhook of the store (any status), following `X-WP-TotalPages`."""
    page, pages = 1, 1
    while page <= pages:
        answer = client.get("webhooks", {"per_page": PAGE_SIZE, "page": page})
        pages = answer.total_pages
        yield from (hook for hook in answer.payload or [] if isinstance(hook, Mapping))
        page += 1


def _is_ours(hook: Webhook, delivery_url: str) -> bool:
    return str(hook.get("name") or "").startswith(NAME_PREFIX) or (
        hook.get("delivery_url") == delivery_url
    )


def _pick(candidates: Sequence[Webhook], delivery_url: str) -> Webhook | None:
    """The webhook to keep for a topic: one already delivering to us (active first)."""

    def rank(hook: Webhook) -> tuple[bool, bool, bool]:
        return (
            hook.get("delivery_url") != delivery_url,
            not str(hook.get("name") or "").startswith(NAME_PREFIX),
            hook.get("status") != "active",
        )

    return min(candidates, key=rank) if candidates else None


def _new_webhook(topic: str, delivery_url: str, secret: str) -> dict[str, str]:
    return {
        "name": f"{NAME_PREFIX} {topic}",
        "topic": topic,
        "delivery_url": delivery_url,
        "secret": secret,
        "status": "active",
    }


def _changes(
    hook: Webhook, topic: str, delivery_url: str, secret: str, force_secret: bool
) -> dict[str, str]:
    """The PUT body that makes `hook` ours and active; {} when it already is."""
    changes: dict[str, str] = {}
    adopted = not str(hook.get("name") or "").startswith(NAME_PREFIX)
    if hook.get("delivery_url") != delivery_url or adopted or force_secret:
        changes.update(delivery_url=delivery_url, secret=secret)
    if adopted:
        changes["name"] = f"{NAME_PREFIX} {topic}"
    if hook.get("status") == "disabled":
        changes["status"] = "active"
    return changes


def verify_keys(client: WooCommerceRestClient) -> None:
    """Check that the keys work and may manage webhooks (`GET /webhooks?per_page=1` needs
    `manage_woocommerce`). Returns None; raises StoreUnavailable with what to do."""
    where = f"{client.store_url}/wp-json/wc/v3"
    try:
        answer = client.get("webhooks", {"per_page": 1})
    except StoreUnavailable:
        raise
    except StoreClientError as error:
        unavailable = StoreUnavailable(_verify_problem(error, where))
        unavailable.status, unavailable.code = error.status, error.code  # what the store said
        raise unavailable from error
    if not isinstance(answer.payload, list):
        raise StoreUnavailable(f"{where}/webhooks did not answer a WooCommerce list: check the URL")


def _verify_problem(error: StoreClientError, where: str) -> str:
    if error.status == 404:
        return (
            f"no WooCommerce REST API at {where}: check the store URL, that WooCommerce is "
            "active, and that permalinks are not 'Plain'"
        )
    if error.retryable:
        return f"the store did not answer ({error}): check the URL or try again later"
    return f"the store refused the key check ({error})"
