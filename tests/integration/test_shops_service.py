"""Shop service: upsert on install, sealed credentials, API tokens stored as hashes only."""

from __future__ import annotations

from sqlalchemy.orm import Session

from referral_plugin.domain.events import Platform
from referral_plugin.models import ShopStatus
from referral_plugin.services.shops import (
    add_shop,
    find_shop,
    issue_api_token,
    shop_credentials,
    shop_for_api_token,
)
from tests.integration import builders as b
from tests.integration.builders import BOX, NOW


def test_installing_again_updates_the_same_shop(session: Session) -> None:
    first = b.shop(session)
    first.status = ShopStatus.UNINSTALLED
    again = add_shop(
        session,
        platform=Platform.SHOPIFY,
        domain=" Referral-Tests.myshopify.com ",
        currency="usd",
        credentials={"access_token": "new"},
        box=BOX,
        now=NOW,
    )
    assert again.id == first.id and again.status is ShopStatus.ACTIVE
    assert "new" not in (again.credentials or "")
    assert shop_credentials(again, BOX) == {"access_token": "new"}
    assert find_shop(session, Platform.SHOPIFY, "referral-tests.myshopify.com") is again
    assert find_shop(session, Platform.WOOCOMMERCE, "referral-tests.myshopify.com") is None


def test_api_token_is_shown_once_and_replaced_on_reissue(session: Session) -> None:
    shop = b.shop(session)
    token = issue_api_token(session, shop.id)
    assert token.startswith("rp_") and shop.api_token_hash != token
    assert shop_for_api_token(session, token) is shop
    newer = issue_api_token(session, shop.id)
    assert shop_for_api_token(session, token) is None
    assert shop_for_api_token(session, newer) is shop
    assert shop_for_api_token(session, "rp_wrong") is None
    assert shop_for_api_token(session, "") is None


def test_uninstalling_drops_credentials_at_once_and_keeps_the_first_time(session: Session) -> None:
    from referral_plugin.services.shops import mark_uninstalled
    from tests.integration.builders import later

    shop = b.shop(session)
    mark_uninstalled(session, shop.id, now=NOW)
    again = mark_uninstalled(session, shop.id, now=later(days=1))
    assert (again.status, again.credentials, again.uninstalled_at) == (
        ShopStatus.UNINSTALLED,
        None,
        NOW,
    )
    assert shop_credentials(again, BOX) == {}
