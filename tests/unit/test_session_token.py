"""App Bridge session tokens: HS256 with the client secret (previous one during a rotation),
aud == API key, exp/nbf with 10 s leeway, iss and dest on the same valid shop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.shopify.session_token import (
    SessionTokenInvalid,
    looks_like_jwt,
    verify_session_token,
)
from tests.shopify_fake_oauth import APP_KEY, APP_SECRET, session_token

SHOP = "demo-store.myshopify.com"
# The test secrets are shorter than PyJWT's recommended 32 bytes (Shopify's are longer).
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
SECRETS = (APP_SECRET, "old-api-secret")


def verify(token: str, secrets: tuple[str, ...] = SECRETS) -> Any:
    return verify_session_token(token, api_key=APP_KEY, secrets=secrets)


def test_a_valid_token_names_the_shop_and_user() -> None:
    token = session_token(SHOP, sub="77")
    verified = verify(token)
    assert (verified.shop, verified.user_id) == (SHOP, "77")
    assert verified.expires_at > datetime.now(tz=UTC)
    assert token not in repr(verified)
    assert looks_like_jwt(token) and not looks_like_jwt("rp_abc")


def test_the_host_is_read_case_insensitively() -> None:
    upper = session_token("Demo-Store.myshopify.com", iss="https://Demo-Store.myshopify.com/admin")
    assert verify(upper).shop == SHOP


def test_the_previous_secret_is_accepted_during_rotation() -> None:
    assert verify(session_token(SHOP, secret="old-api-secret")).shop == SHOP


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        pytest.param(lambda: session_token(SHOP, secret="forged"), "Signature", id="forged"),
        pytest.param(lambda: session_token(SHOP, audience="other-app"), "(?i)audience", id="aud"),
        pytest.param(
            lambda: session_token(SHOP, now=datetime.now(tz=UTC) - timedelta(minutes=2)),
            "expired",
            id="expired",
        ),
        pytest.param(
            lambda: session_token(SHOP, nbf=int(datetime.now(tz=UTC).timestamp()) + 60),
            "not yet valid",
            id="nbf beyond leeway",
        ),
        pytest.param(
            lambda: session_token(SHOP, iss="https://other-shop.myshopify.com/admin"),
            "do not match",
            id="iss and dest differ",
        ),
        pytest.param(
            lambda: session_token("evil.example.com", iss="https://evil.example.com/admin"),
            "Invalid issuer",
            id="not a myshopify shop",
        ),
        pytest.param(
            lambda: session_token(
                "demo_store.myshopify.com", iss="https://demo_store.myshopify.com/admin"
            ),
            "Invalid issuer",
            id="underscore in the shop",
        ),
        pytest.param(lambda: session_token(SHOP, exp=None), "no expiry", id="no exp"),
        pytest.param(lambda: session_token(SHOP, sid=None), "sid", id="no sid"),
        pytest.param(lambda: "not.a.jwt", ".+", id="garbage"),
    ],
)
def test_bad_tokens_are_refused_with_a_reason(token: Any, reason: str) -> None:
    with pytest.raises(SessionTokenInvalid, match=reason):
        verify(token())


def test_an_expired_token_says_expired_even_with_a_previous_secret_configured() -> None:
    expired = session_token(SHOP, now=datetime.now(tz=UTC) - timedelta(minutes=5))
    with pytest.raises(SessionTokenInvalid, match="expired"):
        verify(expired)


def test_without_a_configured_app_nothing_verifies() -> None:
    with pytest.raises(SessionTokenInvalid, match="not configured"):
        verify_session_token(session_token(SHOP), api_key=APP_KEY, secrets=())
