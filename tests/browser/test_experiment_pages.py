"""A/B tests in a real headless Chromium, against the app on loopback and the local fake
Shopify: a shopper the program's holdout holds joins and gets the polite "not available to you"
page (English, and Persian right to left), with no code; an advocate of variant b sees b's offer
on the share page, and b's own discount holds the code in the store. Screenshots:
tests/browser/screenshots/experiment-*.png."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from sqlalchemy import select

from referral_plugin.app import create_app
from referral_plugin.domain.events import Platform
from referral_plugin.domain.experiments import EnrollmentSource
from referral_plugin.models import Program as ProgramRow
from referral_plugin.services.advocates import EnrolledAdvocate, enroll_advocate
from referral_plugin.services.programs import create_program
from referral_plugin.services.shops import add_shop
from referral_plugin.settings import Settings
from tests.browser.conftest import screenshot, serve
from tests.browser.test_advocate_pages import PROGRAM, PUBLIC, SECRET_KEY, Store, href, join
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.inbox_support import APP_SECRET, own_database
from tests.shopify_fake import TOKEN, FakeShopify, admin_schema, origin_of, serving

EXPERIMENT: dict[str, Any] = {
    "variants": [
        {"key": "a", "name": "The program's offer"},
        {"key": "b", "name": "A bigger gift",
         "advocate_reward": {"kind": "fixed_discount", "amount": "20.00"},
         "friend_reward": {"kind": "percent_discount", "percent": "25"}},
    ],
    "holdout_percent": 20,
    "started_at": "2020-01-01T00:00:00Z",
}  # fmt: skip
HOLDOUT_DRAW, B_DRAW = 0.1, 0.9


@dataclass(frozen=True)
class ABStore:
    store: Store
    shop_id: int
    program_id: int

    def enroll(self, email: str, draw: float) -> EnrolledAdvocate:
        services = self.store.live.app.extensions["referral_plugin"]
        with services.sessions.begin() as session:
            return enroll_advocate(
                session, self.shop_id, self.program_id, email=email, first_name="Ben",
                now=datetime.now(tz=UTC), source=EnrollmentSource.API,
                random_value=lambda: draw,
            )  # fmt: skip


@pytest.fixture
def tested(tmp_path: Path) -> Iterator[ABStore]:
    admin_schema()
    fake = FakeShopify()
    with serving(fake) as graphql, own_database(tmp_path) as url:
        settings = Settings(
            database_url=url, secret_key=SECRET_KEY, encryption_key=TEST_ENCRYPTION_KEY,
            public_base_url=PUBLIC, environment="test", instance_path=tmp_path / "instance",
            shopify_api_key="browser-api-key", shopify_api_secret=APP_SECRET,
            shopify_shop_origin=origin_of(graphql),
        )  # fmt: skip
        domain = f"bella-{uuid.uuid4().hex[:8]}.myshopify.com"
        for live in serve(create_app(settings)):
            services = live.app.extensions["referral_plugin"]
            now = datetime.now(tz=UTC)
            with services.sessions.begin() as session:
                shop = add_shop(
                    session, platform=Platform.SHOPIFY, domain=domain, currency="USD",
                    credentials={"access_token": TOKEN}, box=services.box, name="Bella Ceramics",
                    now=now,
                )  # fmt: skip
                program = create_program(session, shop.id, {**PROGRAM, "experiment": EXPERIMENT},
                                         now=now)  # fmt: skip
                public_id = session.scalars(
                    select(ProgramRow.public_id).where(ProgramRow.id == program.id)
                ).one()
            yield ABStore(Store(live, domain, public_id, fake), shop.id, program.id)


@pytest.mark.parametrize(
    ("lang", "title", "direction"),
    [("en", "This program isn't available to you right now", "ltr"),
     ("fa", "این برنامه در حال حاضر برای شما در دسترس نیست", "rtl")],
)  # fmt: skip
def test_a_held_out_shopper_is_told_politely_and_gets_no_code(
    browser: webdriver.Chrome, tested: ABStore, lang: str, title: str, direction: str
) -> None:
    held = tested.enroll("hana@example.com", HOLDOUT_DRAW)
    assert (held.variant, held.code) == ("holdout", "")

    join(browser, tested.store, "hana@example.com", lang=lang)

    assert browser.find_element(By.TAG_NAME, "h1").text == title
    assert browser.execute_script("return document.documentElement.dir") == direction
    assert "Bella Ceramics" in browser.find_element(By.TAG_NAME, "main").text
    assert browser.find_elements(By.ID, "code") == []
    screenshot(browser, f"experiment-holdout-{lang}")


def test_an_advocate_of_variant_b_shares_b_s_offer(
    browser: webdriver.Chrome, tested: ABStore
) -> None:
    ben = tested.enroll("ben@example.com", B_DRAW)
    assert ben.variant == "b"

    join(browser, tested.store, "ben@example.com")  # known email: the share page of his code

    assert browser.find_element(By.ID, "code").text == ben.code
    assert browser.title == "Give 25% off, get $20 off · Bella Ceramics"
    message = parse_qs(urlsplit(href(browser, "share_email")).query)["body"][0]
    assert message.startswith(f"Get 25% off at Bella Ceramics with my code {ben.code}")
    discount = tested.store.fake.by_code(ben.code)  # pushed before the page was shown
    assert discount is not None
    assert discount["input"]["customerGets"]["value"] == {"percentage": 0.25}
    screenshot(browser, "experiment-share-variant-b")
