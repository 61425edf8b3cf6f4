"""The advocate's pages in a real headless Chromium, against the app on loopback and the local
fake Shopify: join → share page (each share link carries the link and the offer) → a signed
`orders/paid` webhook with the advocate's code, drained by the worker's code → the status page
shows the pending reward and its date. The same in Persian is right-to-left and mirrored; a bad
email shows the error next to the field; too many joins get the 429 page. Every state is
saved as a screenshot (tests/browser/screenshots/advocate-*.png)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from connectors.registry import CONNECTORS
from referral_plugin.app import create_app
from referral_plugin.domain.events import Platform
from referral_plugin.inbox_worker import drain_inbox
from referral_plugin.models import Program as ProgramRow
from referral_plugin.services.programs import create_program
from referral_plugin.services.shops import add_shop
from referral_plugin.settings import Settings
from referral_plugin.web.shopper_links import AdvocateRef, status_token
from tests.browser.conftest import LiveApp, screenshot, serve
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.inbox_support import APP_SECRET, order_body, own_database, shopify_headers
from tests.shopify_fake import TOKEN, FakeShopify, admin_schema, origin_of, serving

PUBLIC = "https://referrals.example.test"
SECRET_KEY = "browser-secret-key"
PROGRAM = {
    "name": "Give 15%, get $10",
    "kind": "two_sided",
    "friend_reward": {"kind": "percent_discount", "percent": "15"},
    "advocate_reward": {"kind": "fixed_discount", "amount": "10.00"},
    "conditions": {"minimum_subtotal": "25.00"},
    "hold_days": 30,
    "appearance": {"color": "#7a2e8c"},
}


# The box of an element's text (not of the block, which spans the whole width).
TEXT_BOX = """const range = document.createRange(); range.selectNodeContents(arguments[0]);
const box = range.getBoundingClientRect(); return {left: box.left, right: box.right};"""


@dataclass(frozen=True)
class Store:
    live: LiveApp
    domain: str
    public_id: str
    fake: FakeShopify

    def page(self, path: str) -> str:
        return f"{self.live.url}/p/{self.public_id}/{path}"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    admin_schema()
    fake = FakeShopify()
    with serving(fake) as graphql, own_database(tmp_path) as url:
        settings = Settings(
            database_url=url, secret_key=SECRET_KEY, encryption_key=TEST_ENCRYPTION_KEY,
            public_base_url=PUBLIC, environment="test", instance_path=tmp_path / "instance",
            shopify_api_key="browser-api-key", shopify_api_secret=APP_SECRET,
            shopify_shop_origin=origin_of(graphql), join_limit_per_email=1,
        )  # fmt: skip
        app = create_app(settings)
        domain = f"bella-{uuid.uuid4().hex[:8]}.myshopify.com"
        for live in serve(app):
            services = live.app.extensions["referral_plugin"]
            with services.sessions.begin() as session:
                shop = add_shop(
                    session, platform=Platform.SHOPIFY, domain=domain, currency="USD",
                    credentials={"access_token": TOKEN}, box=services.box, name="Bella Ceramics",
                    now=datetime.now(tz=UTC),
                )  # fmt: skip
                created = create_program(session, shop.id, PROGRAM, now=datetime.now(tz=UTC))
                public_id = session.scalars(
                    select(ProgramRow.public_id).where(ProgramRow.id == created.id)
                ).one()
            yield Store(live, domain, public_id, fake)


def join(browser: webdriver.Chrome, store: Store, email: str, lang: str = "en") -> None:
    browser.get(store.page(f"join?lang={lang}"))
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "first_name").send_keys("Ana")
    browser.execute_script("window.beforeSubmit = true")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    # the next document has loaded (asking during the navigation may raise: ignored)
    WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,)).until(
        lambda driver: driver.execute_script(
            "return window.beforeSubmit === undefined && document.readyState === 'complete'"
        )
    )


def href(browser: webdriver.Chrome, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).get_attribute("href")


def pay_an_order_with(store: Store, code: str) -> None:
    """orders/paid with the code, signed and posted to our webhook edge, then drained."""
    body = order_body(7001, code=code)
    headers = shopify_headers(store.domain, body, "orders/paid", uuid.uuid4().hex)
    answer = requests.post(store.live.url + "/webhooks/shopify", data=body, headers=headers,
                           timeout=10)  # fmt: skip
    assert answer.status_code == 200, answer.text
    services = store.live.app.extensions["referral_plugin"]
    handled = drain_inbox(
        services, worker="browser-test", stop=threading.Event(),
        clock=lambda: datetime.now(tz=UTC), connectors=CONNECTORS,
    )  # fmt: skip
    assert handled == 1


def open_status(browser: webdriver.Chrome, store: Store, code: str, lang: str) -> None:
    token = status_token(SECRET_KEY, AdvocateRef(store.public_id, code))
    browser.get(store.page(f"status/{token}?lang={lang}"))


def test_join_share_and_see_the_pending_reward(browser: webdriver.Chrome, store: Store) -> None:
    browser.get(store.page("join?lang=en"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Give 15% off, get $10 off"
    assert browser.find_element(By.CSS_SELECTOR, "label[for=email]").text == "Email"
    screenshot(browser, "advocate-join")

    join(browser, store, "ana@example.com")

    assert browser.find_element(By.TAG_NAME, "h1").text == "Your code is ready"
    code = browser.find_element(By.ID, "code").text
    assert store.fake.by_code(code) is not None  # in the store before it is shown
    link = f"{PUBLIC}/r/{code}"
    assert browser.find_element(By.ID, "share_link").get_attribute("value") == link
    message = f"Get 15% off at Bella Ceramics with my code {code}: {link}"
    email = urlsplit(href(browser, "share_email"))
    assert email.scheme == "mailto" and parse_qs(email.query)["body"] == [message]
    assert unquote(href(browser, "share_sms")) == f"sms:?&body={message}"
    assert parse_qs(urlsplit(href(browser, "share_whatsapp")).query)["text"] == [message]
    assert parse_qs(urlsplit(href(browser, "share_facebook")).query)["u"] == [link]
    x_share = urlsplit(href(browser, "share_x"))
    assert x_share.netloc == "x.com" and parse_qs(x_share.query)["text"] == [message]
    copy = browser.find_element(By.ID, "copy")  # shown only where the clipboard API exists
    copy.click()
    # copied (the clipboard answers asynchronously), or selected for copying by hand
    WebDriverWait(browser, 10).until(
        lambda driver: (
            copy.text == "Copied"
            or driver.execute_script("return document.activeElement.id") == "share_link"
        )
    )
    screenshot(browser, "advocate-share")

    pay_an_order_with(store, code)
    open_status(browser, store, code, "en")

    paid_at = datetime(2026, 11, 20, 12, tzinfo=UTC)  # the order payload's processed time
    held_until = (paid_at + timedelta(days=30)).strftime("%B %-d, %Y")
    steps = [s.text for s in browser.find_elements(By.CSS_SELECTOR, "ol.timeline li")]
    assert steps[0].startswith("Ordered")
    assert steps[-1].startswith(f"Pending until {held_until}")
    reward = browser.find_element(By.CSS_SELECTOR, ".reward").text
    assert "$10 off" in reward and f"Pending until {held_until}" in reward
    assert "Balance: $10" in browser.find_element(By.TAG_NAME, "main").text
    screenshot(browser, "advocate-status-pending")


def test_the_persian_pages_are_right_to_left(browser: webdriver.Chrome, store: Store) -> None:
    browser.get(store.page("join?lang=fa"))
    assert browser.execute_script("return document.documentElement.dir") == "rtl"
    label = browser.execute_script(
        TEXT_BOX, browser.find_element(By.CSS_SELECTOR, "label[for=email]")
    )
    field = browser.find_element(By.ID, "email").rect
    # mirrored: the label's text hugs the right edge of the full-width field, not the left
    assert abs(label["right"] - (field["x"] + field["width"])) < 2
    assert label["left"] - field["x"] > 100
    screenshot(browser, "advocate-join-fa")

    join(browser, store, "sara@example.com", lang="fa")
    assert browser.find_element(By.TAG_NAME, "h1").text == "کد شما آماده است"
    code = browser.find_element(By.ID, "code").text
    assert browser.find_element(By.ID, "share_link").value_of_css_property("direction") == "ltr"
    screenshot(browser, "advocate-share-fa")

    pay_an_order_with(store, code)
    open_status(browser, store, code, "fa")
    assert browser.find_element(By.TAG_NAME, "h1").text == "معرفی‌های شما"
    assert "در انتظار تا" in browser.find_element(By.CSS_SELECTOR, ".reward").text
    screenshot(browser, "advocate-status-fa")


def test_a_bad_email_is_shown_next_to_the_field(browser: webdriver.Chrome, store: Store) -> None:
    join(browser, store, "ana@example")
    field = browser.find_element(By.ID, "email")
    error = browser.find_element(By.ID, "email_error")
    assert field.get_attribute("aria-invalid") == "true"
    assert field.get_attribute("aria-describedby") == "email_error"
    assert error.is_displayed() and error.text.startswith("Please enter an email address")
    assert 0 < error.rect["y"] - field.rect["y"] < 80  # right under the field
    screenshot(browser, "advocate-join-bad-email")


def test_too_many_joins_get_the_429_page(browser: webdriver.Chrome, store: Store) -> None:
    join(browser, store, "bea@example.com")  # the limit per email is 1 an hour here
    assert browser.find_element(By.ID, "code")
    join(browser, store, "bea@example.com")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Too many attempts"
    assert "Please try again after" in browser.find_element(By.TAG_NAME, "main").text
    screenshot(browser, "advocate-join-rate-limited")


def test_an_expired_status_link_explains_how_to_get_a_fresh_one(
    browser: webdriver.Chrome, store: Store
) -> None:
    browser.get(store.page("status/not-a-valid-token?lang=en"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "This link has expired or is not valid"
    assert "Status links work for 30 days" in browser.find_element(By.TAG_NAME, "main").text
    screenshot(browser, "advocate-status-expired")
