"""Shopify's signed install/callback query (hex HMAC of the sorted query, 90 s window), the
authorize URL, and the token grant we store. The signatures are computed independently here
(and by `tests/shopify_fake_oauth.sign_query`), never by the code under test."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

from connectors.shopify.oauth import (
    TokenRequestFailed,
    _failure,
    authorize_url,
    canonical_query,
    grant_from_response,
    shop_origin,
    signed_query_problem,
)
from tests.shopify_fake_oauth import sign_query

SECRET = "hush"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
STAMP = str(int(NOW.timestamp()))


def signed(secret: str = SECRET, **params: str) -> list[tuple[str, str]]:
    values = {"shop": "demo-store.myshopify.com", "timestamp": STAMP, **params}
    return [*values.items(), ("hmac", sign_query(values, secret))]


def test_shopify_docs_example_query_string() -> None:
    """shopify.dev's example: `code=...&shop=...&state=...&timestamp=...` signed as hex."""
    pairs = [
        ("code", "0907a61c0c8d55e99db179b68161bc00"),
        ("shop", "some-shop.myshopify.com"),
        ("state", "0.6784241404160823"),
        ("timestamp", "1337178173"),
    ]
    message = "&".join(f"{k}={v}" for k, v in pairs).encode()
    digest = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    given = [*pairs, ("hmac", digest)]
    then = datetime.fromtimestamp(1337178173, tz=UTC)
    assert signed_query_problem(given, [SECRET], now=then) is None


@pytest.mark.parametrize(
    ("pairs", "secrets", "now", "problem"),
    [
        pytest.param(signed(), [SECRET], NOW, None, id="valid"),
        pytest.param(signed(host="YWRtaW4=", embedded="1"), [SECRET], NOW, None, id="extra params"),
        pytest.param(signed(state="a b"), [SECRET], NOW, None, id="space in a value"),
        pytest.param(signed("old"), ["new", "old"], NOW, None, id="previous secret"),
        pytest.param(signed("other"), [SECRET], NOW, "hmac does not match", id="wrong secret"),
        pytest.param(
            [*signed(), ("shop", "evil.myshopify.com")][1:],
            [SECRET],
            NOW,
            "hmac does not match",
            id="tampered shop",
        ),
        pytest.param(
            [p for p in signed() if p[0] != "hmac"], [SECRET], NOW, "no hmac", id="no hmac"
        ),
        pytest.param(
            signed(), [SECRET], NOW + timedelta(seconds=91), "too old", id="older than 90 s"
        ),
        pytest.param(
            signed(), [SECRET], NOW - timedelta(seconds=91), "too old", id="from the future"
        ),
        pytest.param(signed(), [SECRET], NOW + timedelta(seconds=89), None, id="89 s old"),
    ],
)
def test_signed_query(
    pairs: list[tuple[str, str]], secrets: list[str], now: datetime, problem: str | None
) -> None:
    found = signed_query_problem(pairs, secrets, now=now)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_a_query_without_timestamp_is_refused() -> None:
    values = {"shop": "demo-store.myshopify.com"}
    pairs = [*values.items(), ("hmac", sign_query(values, SECRET))]
    assert "timestamp" in (signed_query_problem(pairs, [SECRET], now=NOW) or "")


def test_repeated_and_array_keys_are_signed_as_key_brackets() -> None:
    pairs = [("ids[]", "2"), ("shop", "a.myshopify.com"), ("ids[]", "1"), ("hmac", "x")]
    assert canonical_query(pairs) == "ids%5B%5D=2&ids%5B%5D=1&shop=a.myshopify.com"
    assert canonical_query([("a", "1"), ("a", "2")]) == "a%5B%5D=1&a%5B%5D=2"


def test_authorize_url_asks_for_offline_access_with_state() -> None:
    url = authorize_url(
        shop_origin("https://{shop}", "demo-store.myshopify.com"),
        client_id="key",
        scopes="read_orders,write_discounts",
        redirect_uri="https://app.example/shopify/callback",
        state="n0nce",
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "demo-store.myshopify.com",
        "/admin/oauth/authorize",
    )
    assert dict(parse_qsl(parts.query)) == {
        "client_id": "key",
        "scope": "read_orders,write_discounts",
        "redirect_uri": "https://app.example/shopify/callback",
        "state": "n0nce",
    }


def test_the_grant_keeps_the_whole_response_and_hides_tokens() -> None:
    response = {
        "access_token": "shpat_secret",
        "scope": "read_orders",
        "expires_in": 3600,
        "refresh_token": "shprt_secret",
        "refresh_token_expires_in": 7776000,
    }
    grant = grant_from_response(response, now=NOW)

    assert grant.expires_at == NOW + timedelta(hours=1)
    assert grant.refresh_token_expires_at == NOW + timedelta(days=90)
    assert "secret" not in repr(grant)
    assert grant.credentials() == {
        "access_token": "shpat_secret",
        "scope": "read_orders",
        "expires_in": "3600",
        "refresh_token": "shprt_secret",
        "refresh_token_expires_in": "7776000",
        "obtained_at": NOW.isoformat(),
        "expires_at": (NOW + timedelta(hours=1)).isoformat(),
        "refresh_token_expires_at": (NOW + timedelta(days=90)).isoformat(),
    }


def test_a_non_expiring_grant_has_no_expiry() -> None:
    grant = grant_from_response({"access_token": "t", "scope": "read_orders"}, now=NOW)
    assert grant.expires_at is None and grant.refresh_token is None
    assert "expires_at" not in grant.credentials()


@pytest.mark.parametrize(
    ("status", "error", "dead", "retryable"),
    [
        pytest.param(400, "invalid_grant", True, False, id="expired refresh token"),
        pytest.param(401, "invalid_request", True, False, id="no active refresh token"),
        pytest.param(400, "invalid_subject_token", True, False, id="bad session token"),
        pytest.param(401, "invalid_client", False, False, id="our client secret is wrong"),
        pytest.param(503, None, False, True, id="shopify unavailable"),
        pytest.param(429, None, False, True, id="rate limited"),
    ],
)
def test_token_failures_say_whether_the_grant_is_dead(
    status: int, error: str | None, dead: bool, retryable: bool
) -> None:
    failure = _failure(status, {"error": error} if error else {})
    assert isinstance(failure, TokenRequestFailed)
    assert (failure.dead_grant, failure.retryable) == (dead, retryable)
