"""App Proxy signatures, checked with shopify.dev's own example ("Authenticate app proxies":
secret `hush`, `extra=1&extra=2`, `path_prefix=/apps/awesome_reviews`, timestamp 1317327555)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.shopify.app_proxy import (
    ProxySignatureInvalid,
    proxy_message,
    proxy_signature,
    verify_proxy_request,
)

SIGNED_AT = datetime.fromtimestamp(1317327555, tz=UTC)
# The forwarded query of the docs' example, decoded as a web framework hands it over.
DOCS_QUERY = [
    ("extra", "1"),
    ("extra", "2"),
    ("shop", "shop-name.myshopify.com"),
    ("logged_in_customer_id", "1"),
    ("path_prefix", "/apps/awesome_reviews"),
    ("timestamp", "1317327555"),
    ("signature", "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb"),
]
# The older docs' example: no logged-in customer.
OLDER_DOCS_QUERY = [
    ("extra", "1"),
    ("extra", "2"),
    ("shop", "shop-name.myshopify.com"),
    ("path_prefix", "/apps/awesome_reviews"),
    ("timestamp", "1317327555"),
    ("signature", "a9718877bea71c2484f91608a7eaea1532bdf71f5c56825065fa4ccabe549ef3"),
]


def test_the_message_is_sorted_pairs_with_commas_and_no_separator() -> None:
    assert proxy_message(DOCS_QUERY) == (
        "extra=1,2logged_in_customer_id=1path_prefix=/apps/awesome_reviews"
        "shop=shop-name.myshopify.comtimestamp=1317327555"
    )


@pytest.mark.parametrize("query", [DOCS_QUERY, OLDER_DOCS_QUERY], ids=["docs", "older docs"])
def test_the_docs_examples_verify(query: list[tuple[str, str]]) -> None:
    assert proxy_signature(query, "hush") == dict(query)["signature"]
    proxied = verify_proxy_request(query, ["new-secret", "hush"], now=SIGNED_AT)
    assert proxied.shop == "shop-name.myshopify.com"
    assert proxied.path_prefix == "/apps/awesome_reviews"


def test_the_logged_in_customer_is_read() -> None:
    assert verify_proxy_request(DOCS_QUERY, ["hush"], now=SIGNED_AT).customer_id == "1"
    assert verify_proxy_request(OLDER_DOCS_QUERY, ["hush"], now=SIGNED_AT).customer_id is None


def resign(query: list[tuple[str, str]], **changes: str) -> list[tuple[str, str]]:
    values = [(k, changes.get(k, v)) for k, v in query if k != "signature"]
    return [*values, ("signature", proxy_signature(values, "hush"))]


@pytest.mark.parametrize(
    ("query", "now", "reason"),
    [
        pytest.param(
            [(k, "evil.myshopify.com" if k == "shop" else v) for k, v in DOCS_QUERY],
            SIGNED_AT,
            "does not match",
            id="tampered shop",
        ),
        pytest.param(
            [p for p in DOCS_QUERY if p[0] != "signature"], SIGNED_AT, "no signature", id="unsigned"
        ),
        pytest.param(DOCS_QUERY, SIGNED_AT + timedelta(minutes=2), "too old", id="replayed later"),
        pytest.param(
            resign(DOCS_QUERY, shop="shop-name.example.com"),
            SIGNED_AT,
            "myshopify",
            id="signed but not a shop",
        ),
        pytest.param(
            resign(DOCS_QUERY, timestamp="soon"), SIGNED_AT, "timestamp", id="bad timestamp"
        ),
    ],
)
def test_bad_requests_are_refused(query: list[tuple[str, str]], now: datetime, reason: str) -> None:
    with pytest.raises(ProxySignatureInvalid, match=reason):
        verify_proxy_request(query, ["hush"], now=now)


def test_another_apps_secret_does_not_verify() -> None:
    with pytest.raises(ProxySignatureInvalid, match="does not match"):
        verify_proxy_request(DOCS_QUERY, ["someone-else"], now=SIGNED_AT)
