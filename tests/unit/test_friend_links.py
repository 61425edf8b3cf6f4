"""The pure parts of the friend's link: per-friend codes, the store request of a claimed code,
and where each platform's storefront sends the friend."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.storefronts import storefront_for
from referral_plugin.domain.codes import ALPHABET, generate_friend_code, normalize_code
from referral_plugin.domain.events import Platform
from referral_plugin.domain.programs import RewardKind, RewardSpec
from referral_plugin.domain.store import FriendCodeOffer, claimed_code_request
from referral_plugin.settings import Settings

START = datetime(2026, 11, 20, tzinfo=UTC)
SETTINGS = Settings(database_url="sqlite://", secret_key="k", encryption_key="k")


class Sequence:
    def __init__(self) -> None:
        self.picks = 0

    def choice(self, seq: str) -> str:
        self.picks += 1
        return seq[self.picks % len(seq)]


def test_a_friend_code_has_twelve_random_readable_characters() -> None:
    chooser = Sequence()
    code = generate_friend_code(chooser=chooser)
    assert chooser.picks == 12
    prefix, *groups = code.split("-")
    assert prefix == "FR" and [len(g) for g in groups] == [4, 4, 4]
    assert set("".join(groups)) <= set(ALPHABET)
    assert normalize_code(code) == code.replace("-", "")
    assert len({generate_friend_code() for _ in range(200)}) == 200  # from `secrets`


def offer(spec: RewardSpec) -> FriendCodeOffer:
    return FriendCodeOffer(
        program_id=3, title="Referral: Spring", reward=spec, currency="EUR", starts_at=START,
        minimum_subtotal=Decimal(30), offer_code="RF-AAAA-BBBB-CCCC",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "values"),
    [
        (RewardSpec(kind=RewardKind.PERCENT_DISCOUNT, percent=Decimal(15)),
         {"percent": Decimal(15), "amount": None, "product_id": None}),
        (RewardSpec(kind=RewardKind.FIXED_DISCOUNT, amount=Decimal(10)),
         {"percent": None, "amount": Decimal(10), "product_id": None}),
        (RewardSpec(kind=RewardKind.FREE_PRODUCT, product_id="99", amount=Decimal(4)),
         {"percent": None, "amount": None, "product_id": "99"}),  # the amount is a cost
        (RewardSpec(kind=RewardKind.FREE_SHIPPING),
         {"percent": None, "amount": None, "product_id": None}),
    ],
)  # fmt: skip
def test_a_claimed_code_request_is_the_offer_once_for_one_email(
    spec: RewardSpec, values: dict[str, Any]
) -> None:
    request = claimed_code_request(offer(spec), code_id=5, code="FR-X", email="bea@example.com")
    chosen = {name: getattr(request, name) for name in values}
    assert chosen == values
    assert (request.reward_id, request.friend_code_id, request.kind) == (None, 5, spec.kind)
    assert (request.title, request.email) == ("Referral friend code FR-X", "bea@example.com")
    assert (request.starts_at, request.expires_at, request.minimum_subtotal) == (
        START, None, Decimal(30),
    )  # fmt: skip
    assert request.customer_id is None and request.currency == "EUR"


@pytest.mark.parametrize(
    ("platform", "domain", "origin", "home", "discount"),
    [
        (Platform.SHOPIFY, "bella.myshopify.com", "https://{shop}",
         "https://bella.myshopify.com/?ref=ANA-7Q2K",
         "https://bella.myshopify.com/discount/ANA-7Q2K?redirect=%2F%3Fref%3DANA-7Q2K"),
        (Platform.SHOPIFY, "bella.myshopify.com", "http://127.0.0.1:8123",
         "http://127.0.0.1:8123/?ref=ANA-7Q2K",
         "http://127.0.0.1:8123/discount/ANA-7Q2K?redirect=%2F%3Fref%3DANA-7Q2K"),
        (Platform.WOOCOMMERCE, "https://shop.example.com/store", "https://{shop}",
         "https://shop.example.com/store/?ref=ANA-7Q2K", None),
    ],
)  # fmt: skip
def test_each_storefront_sends_the_friend_where_the_code_applies(
    platform: Platform, domain: str, origin: str, home: str, discount: str | None
) -> None:
    settings = dataclasses.replace(SETTINGS, shopify_shop_origin=origin)
    storefront = storefront_for(platform, domain, settings)
    assert storefront.home("ANA-7Q2K") == home
    assert storefront.discount_link("ANA-7Q2K", "ANA-7Q2K") == discount
    if discount is not None:
        assert parse_qs(urlsplit(discount).query) == {"redirect": ["/?ref=ANA-7Q2K"]}
