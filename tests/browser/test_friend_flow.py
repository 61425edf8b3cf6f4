"""The friend's side in a real headless Chromium, with a per-friend program: the advocate joins
and sees the share page; their own link tells them it is theirs; a fresh browser (cookies
cleared) opens the link, claims a code with an email (the advocate's own email is refused),
and lands where the code applies; a signed order webhook with that code reaches the real edge,
the worker drains the inbox, and the advocate's status page shows clicked → claimed → ordered
→ pending until <date>.

In English against the local fake Shopify: the claim redirects through the store's discount
link and the fake storefront shows the code applied. In Persian against the local fake
WooCommerce: right-to-left pages, the landing page with the code to copy, and the order placed
through the store's REST API (the fake refuses the coupon for any other billing email) whose
webhook the store signs and delivers to us. Screenshots: tests/browser/screenshots/friend-*.png.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from connectors.registry import CONNECTORS
from connectors.woocommerce.rest_client import WooCommerceRestClient
from referral_plugin.app import AppServices, create_app
from referral_plugin.domain.events import Platform
from referral_plugin.inbox_worker import drain_inbox
from referral_plugin.models import Claim
from referral_plugin.models import Program as ProgramRow
from referral_plugin.services.programs import create_program
from referral_plugin.services.shops import add_shop
from referral_plugin.settings import Settings
from referral_plugin.web.shopper_links import AdvocateRef, status_token
from tests.browser.conftest import LiveApp, screenshot, serve
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.inbox_support import APP_SECRET, order_body, own_database, shopify_headers
from tests.shopify_fake import TOKEN, FakeShopify, admin_schema, origin_of, serving
from tests.woocommerce_fake import FakeWooCommerce

PUBLIC = "https://referrals.example.test"
SECRET_KEY = "friend-flow-secret-key"
WEBHOOK_SECRET = "woo-webhook-secret"
PROGRAM = {
    "name": "Give 15%, get $10",
    "kind": "two_sided",
    "claim_mode": "per_friend",
    "friend_reward": {"kind": "percent_discount", "percent": "15"},
    "advocate_reward": {"kind": "fixed_discount", "amount": "10.00"},
    "hold_days": 30,
    "appearance": {"color": "#1d6b57"},
}
STEPS = ["clicked", "claimed", "ordered", "pending"]


@dataclass(frozen=True)
class World:
    live: LiveApp
    domain: str  # the shop's: myshopify domain or the WooCommerce store URL
    public_id: str

    @property
    def services(self) -> AppServices:
        return self.live.app.extensions["referral_plugin"]

    def url(self, path: str) -> str:
        return f"{self.live.url}{path}"


def a_world(
    tmp_path: Path, platform: Platform, domain: str, credentials: dict[str, str], **options: Any
) -> Iterator[World]:
    """Our app on loopback with its own database, one shop and the per-friend program."""
    with own_database(tmp_path) as url:
        settings = Settings(
            database_url=url, secret_key=SECRET_KEY, encryption_key=TEST_ENCRYPTION_KEY,
            public_base_url=PUBLIC, environment="test", instance_path=tmp_path / "instance",
            shopify_api_key="browser-api-key", shopify_api_secret=APP_SECRET, **options,
        )  # fmt: skip
        for live in serve(create_app(settings)):
            services = live.app.extensions["referral_plugin"]
            with services.sessions.begin() as session:
                shop = add_shop(
                    session, platform=platform, domain=domain, currency="USD",
                    credentials=credentials, box=services.box, name="Verde Tea",
                    now=datetime.now(tz=UTC),
                )  # fmt: skip
                created = create_program(session, shop.id, PROGRAM, now=datetime.now(tz=UTC))
                public_id = session.scalars(
                    select(ProgramRow.public_id).where(ProgramRow.id == created.id)
                ).one()
            yield World(live, domain, public_id)


@pytest.fixture
def shopify_world(tmp_path: Path) -> Iterator[tuple[World, FakeShopify]]:
    admin_schema()
    fake = FakeShopify()
    with serving(fake) as graphql:
        domain = f"verde-{uuid.uuid4().hex[:8]}.myshopify.com"
        for world in a_world(
            tmp_path, Platform.SHOPIFY, domain, {"access_token": TOKEN},
            shopify_shop_origin=origin_of(graphql),
        ):  # fmt: skip
            yield world, fake


@pytest.fixture
def woo_world(tmp_path: Path) -> Iterator[tuple[World, FakeWooCommerce]]:
    with FakeWooCommerce() as store:
        keys = {"consumer_key": store.consumer_key, "consumer_secret": store.consumer_secret,
                "webhook_secret": WEBHOOK_SECRET}  # fmt: skip
        for world in a_world(tmp_path, Platform.WOOCOMMERCE, store.url, keys):
            store.add_webhook(  # as `ensure_webhooks` creates it, pointing at our app
                secret=WEBHOOK_SECRET, topic="order.created", status="active",
                delivery_url=world.url("/webhooks/woocommerce"),
            )  # fmt: skip
            yield world, store


def wait_for_next_page(browser: webdriver.Chrome) -> None:
    """After a click that submits a form: the next document has loaded."""
    WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,)).until(
        lambda driver: driver.execute_script(
            "return window.beforeSubmit === undefined && document.readyState === 'complete'"
        )
    )


def submit(browser: webdriver.Chrome, fields: dict[str, str]) -> None:
    for name, value in fields.items():
        field = browser.find_element(By.ID, name)
        field.clear()
        field.send_keys(value)
    browser.execute_script("window.beforeSubmit = true")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_next_page(browser)


def join_and_share(browser: webdriver.Chrome, world: World, lang: str) -> str:
    """The advocate joins; returns their code from the share page's link (which marks the
    browser). A per-friend program's share page shows no code: it is no checkout code."""
    browser.get(world.url(f"/p/{world.public_id}/join?lang={lang}"))
    submit(browser, {"email": "ana@example.com", "first_name": "Ana"})
    assert not browser.find_elements(By.ID, "code")
    return browser.find_element(By.ID, "share_link").get_attribute("value").rsplit("/r/", 1)[1]


def friend_opens(browser: webdriver.Chrome, world: World, code: str, lang: str) -> None:
    """The friend opens the link in a fresh context: no cookie of the advocate's (our app's or
    the store's)."""
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    browser.get(world.url(f"/r/{code}?lang={lang}"))


def text(browser: webdriver.Chrome, selector: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, selector).text


def drain(world: World) -> None:
    handled = drain_inbox(
        world.services, worker="browser-test", stop=threading.Event(),
        clock=lambda: datetime.now(tz=UTC), connectors=CONNECTORS,
    )  # fmt: skip
    assert handled == 1


def claimed_at(world: World) -> datetime:
    with world.services.sessions.begin() as session:
        return session.scalars(select(Claim.claimed_at)).one()


def felix_order(code: str, paid_at: datetime) -> bytes:
    """orders/paid from the recorded sample: Felix's order with his code, paid at `paid_at`."""
    stamp = paid_at.isoformat()
    order = json.loads(order_body(7002, code=code, updated_at=stamp))
    order.update(created_at=stamp, processed_at=stamp, email="felix@example.com",
                 contact_email="felix@example.com")  # fmt: skip
    order["customer"] = {**order["customer"], "email": "felix@example.com"}
    return json.dumps(order).encode()


def open_status(browser: webdriver.Chrome, world: World, code: str, lang: str) -> list[str]:
    token = status_token(SECRET_KEY, AdvocateRef(world.public_id, code))
    browser.get(world.url(f"/p/{world.public_id}/status/{token}?lang={lang}"))
    items = browser.find_elements(By.CSS_SELECTOR, "ol.timeline li")
    return [item.get_attribute("data-step") for item in items]


def test_a_friend_claims_a_code_that_applies_in_the_shopify_store(
    browser: webdriver.Chrome, shopify_world: tuple[World, FakeShopify]
) -> None:
    world, fake = shopify_world
    code = join_and_share(browser, world, "en")
    assert text(browser, "h1") == "Your link is ready"
    assert text(browser, "#per_friend") == (
        "Each friend who opens your link gets a single-use code of their own."
    )
    assert browser.find_element(By.ID, "share_link").get_attribute("value") == f"{PUBLIC}/r/{code}"
    whatsapp = browser.find_element(By.ID, "share_whatsapp").get_attribute("href")
    assert "claim%20your%20own%20code" in whatsapp and f"my%20code%20{code}" not in whatsapp
    screenshot(browser, "friend-1-share")

    browser.get(world.url(f"/r/{code}"))  # the advocate tries their own link
    assert text(browser, "h1") == "This is your own link"
    assert "/discount/" not in browser.current_url
    screenshot(browser, "friend-2-own-link")

    friend_opens(browser, world, code, "en")
    assert text(browser, "h1") == "Your friend gives you 15% off at Verde Tea"
    assert text(browser, "label[for=email]") == "Email"
    screenshot(browser, "friend-3-claim")

    submit(browser, {"email": "ANA@example.com"})  # the advocate's own inbox
    error = browser.find_element(By.ID, "email_error")
    assert error.text.startswith("This is the email address of the person who shared this link")
    assert browser.find_element(By.ID, "email").get_attribute("aria-invalid") == "true"
    screenshot(browser, "friend-4-claim-own-email")

    submit(browser, {"email": "felix@example.com"})
    # through Shopify's discount link to the store's home page, the code applied
    assert text(browser, "#discount").startswith("Discount FR-")
    friend_code = text(browser, "#discount").split()[1]
    assert text(browser, "#ref") == f"ref={friend_code}"
    discount = fake.by_code(friend_code)
    assert discount["input"]["usageLimit"] == 1
    screenshot(browser, "friend-5-store-shopify")

    paid_at = claimed_at(world) + timedelta(hours=1)  # an hour after the claim
    body = felix_order(friend_code, paid_at)
    headers = shopify_headers(world.domain, body, "orders/paid", uuid.uuid4().hex)
    answer = requests.post(world.url("/webhooks/shopify"), data=body, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    drain(world)

    assert open_status(browser, world, code, "en") == STEPS
    steps = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "ol.timeline li")]
    held_until = (paid_at + timedelta(days=30)).strftime("%B %-d, %Y")
    assert steps[0] == "Clicked your link" and steps[1].startswith("Claimed the offer · ")
    assert steps[-1].startswith(f"Pending until {held_until}")
    assert "Link clicks: 1" in text(browser, "main")  # the friend's, not the advocate's own
    assert f"Pending until {held_until}" in text(browser, ".reward")
    screenshot(browser, "friend-6-status")


def test_the_persian_friend_flow_is_right_to_left_on_woocommerce(
    browser: webdriver.Chrome, woo_world: tuple[World, FakeWooCommerce]
) -> None:
    world, store = woo_world
    code = join_and_share(browser, world, "fa")

    friend_opens(browser, world, code, "fa")
    assert browser.execute_script("return document.documentElement.dir") == "rtl"
    assert text(browser, "h1") == "دوستتان در Verde Tea به شما 15% تخفیف هدیه می‌دهد"
    field, label = browser.find_element(By.ID, "email"), browser.find_element(By.TAG_NAME, "label")
    assert label.rect["x"] + label.rect["width"] == pytest.approx(
        field.rect["x"] + field.rect["width"], abs=2
    )  # mirrored: the label starts at the right edge
    screenshot(browser, "friend-fa-1-claim")

    submit(browser, {"email": "sara.friend@example.com"})
    assert browser.execute_script("return document.documentElement.dir") == "rtl"
    assert text(browser, "h1") == "کد شما آماده است"
    shown = browser.find_element(By.ID, "friend_code")
    friend_code = shown.get_attribute("value")
    assert friend_code.startswith("FR-") and shown.value_of_css_property("direction") == "ltr"
    assert browser.find_element(By.ID, "to_store").get_attribute("href") == (
        f"{store.url}/?ref={friend_code}"
    )
    coupon = store.coupon_by_code(friend_code)
    assert coupon["email_restrictions"] == ["sara.friend@example.com"]
    screenshot(browser, "friend-fa-2-landing")

    rest = WooCommerceRestClient(store.url, store.consumer_key, store.consumer_secret)
    rest.post("orders", {  # the store signs and delivers `order.created` to our edge
        "billing": {"email": "sara.friend@example.com"}, "set_paid": True,
        "line_items": [{"product_id": 93, "quantity": 1, "total": "40.00"}],
        "coupon_lines": [{"code": friend_code}],
    })  # fmt: skip
    assert [d.status for d in store.outbound.deliveries] == [200]
    drain(world)

    assert open_status(browser, world, code, "fa") == STEPS
    assert browser.execute_script("return document.documentElement.dir") == "rtl"
    screenshot(browser, "friend-fa-3-status")


def test_a_store_that_is_down_and_a_dead_link_are_said_plainly(
    browser: webdriver.Chrome, woo_world: tuple[World, FakeWooCommerce]
) -> None:
    world, store = woo_world
    code = join_and_share(browser, world, "en")
    store.fail_next(503, retry_after="300", method="POST", path="coupons")  # maintenance

    friend_opens(browser, world, code, "en")
    submit(browser, {"email": "noor@example.com"})

    assert text(browser, "h1") == "Your code is almost ready"
    notice = text(browser, ".notice")
    assert notice.startswith("Your code will work in the store from about")
    assert browser.find_element(By.ID, "friend_code").get_attribute("value").startswith("FR-")
    screenshot(browser, "friend-7-store-down")

    browser.get(world.url("/r/NOT-A-REAL-CODE?lang=en"))
    assert text(browser, "h1") == "This link does not work"
    screenshot(browser, "friend-8-dead-link")
