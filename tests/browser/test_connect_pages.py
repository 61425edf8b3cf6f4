"""The merchant-facing connect and install pages in a real browser: they render, their form is
labelled and usable from the keyboard, errors show next to the field, and every outcome tells
the merchant what happened and what to do next. Each state is saved as a screenshot."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.wait import WebDriverWait

from referral_plugin.app import create_app
from referral_plugin.settings import Settings
from tests.browser.conftest import LiveApp, screenshot, serve
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.inbox_support import own_database
from tests.woocommerce_fake import FakeWooCommerce

PUBLIC = "https://referrals.example.test"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveApp]:
    with own_database(tmp_path) as url:
        settings = Settings(
            database_url=url,
            secret_key="browser-secret-key",
            encryption_key=TEST_ENCRYPTION_KEY,
            public_base_url=PUBLIC,
            environment="test",
            instance_path=tmp_path / "instance",
            shopify_api_key="browser-api-key",
            shopify_api_secret="browser-api-secret",
        )
        yield from serve(create_app(settings))


def text(driver: webdriver.Chrome) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def test_the_connect_form_is_labelled_and_shows_a_bad_address_next_to_the_field(
    browser: webdriver.Chrome, live: LiveApp
) -> None:
    browser.get(live.url + "/woocommerce/connect")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Connect your WooCommerce store"
    field = browser.find_element(By.ID, "store_url")
    label = browser.find_element(By.CSS_SELECTOR, "label[for=store_url]")
    assert label.text == "Store address" and field.get_attribute("required") == "true"
    assert browser.find_element(By.CSS_SELECTOR, "button[type=submit]").is_enabled()
    screenshot(browser, "woocommerce-connect")

    field.send_keys("ftp://not a store", Keys.ENTER)  # submitted from the keyboard
    WebDriverWait(browser, 10).until(staleness_of(field))  # the answer page replaced the form

    field = browser.find_element(By.ID, "store_url")
    error = browser.find_element(By.ID, "store_url_error")
    assert field.get_attribute("aria-invalid") == "true"
    assert field.get_attribute("aria-describedby") == "store_url_error"
    assert error.is_displayed() and error.text
    assert field.get_attribute("value") == "ftp://not a store"  # kept for correcting
    screenshot(browser, "woocommerce-connect-bad-address")


@pytest.mark.parametrize("approved", [True, False], ids=["approved", "declined"])
def test_the_return_page_says_what_happened(
    browser: webdriver.Chrome, live: LiveApp, approved: bool
) -> None:
    with FakeWooCommerce(outbound={PUBLIC: live.url}) as store:
        store.approve_auth = approved
        back = _connect_through_the_store(live, store)
        browser.get(live.url + back.removeprefix(PUBLIC))

    page = text(browser)
    if approved:
        assert "connected" in page.lower() and urlsplit(store.url).netloc in page
        screenshot(browser, "woocommerce-return-connected")
    else:
        assert "declined" in page.lower() or "not approve" in page.lower(), page
        assert browser.find_element(By.CSS_SELECTOR, "a[href$='/woocommerce/connect']")
        screenshot(browser, "woocommerce-return-declined")


def test_without_an_https_address_the_page_explains_the_command_line_instead(
    browser: webdriver.Chrome, tmp_path: Path
) -> None:
    with own_database(tmp_path) as url:
        settings = Settings(
            database_url=url,
            secret_key="browser-secret-key",
            encryption_key=TEST_ENCRYPTION_KEY,
            public_base_url="http://127.0.0.1:8000",
            environment="test",
            instance_path=tmp_path / "instance",
        )
        for live in serve(create_app(settings)):
            browser.get(live.url + "/woocommerce/connect")
            alert = browser.find_element(By.CSS_SELECTOR, "[role=alert]")
            assert "https" in alert.text and "referral-plugin shop add-woocommerce" in alert.text
            assert not browser.find_element(By.CSS_SELECTOR, "button[type=submit]").is_enabled()
            screenshot(browser, "woocommerce-connect-needs-https")


def test_a_shopify_install_problem_tells_the_merchant_what_to_do(
    browser: webdriver.Chrome, live: LiveApp
) -> None:
    browser.get(live.url + "/shopify/install?shop=not-a-shop.example.com")
    assert browser.find_element(By.TAG_NAME, "h1").text == "The app could not be installed"
    assert "myshopify.com" in text(browser)
    screenshot(browser, "shopify-install-problem")


def _connect_through_the_store(live: LiveApp, store: FakeWooCommerce) -> str:
    """Our form, then the store's key flow (as the merchant's browser follows it); returns
    where the store sends the merchant back (our public return URL)."""
    session = requests.Session()
    page = session.get(live.url + "/woocommerce/connect", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    started = session.post(
        live.url + "/woocommerce/connect",
        data={"csrf_token": token, "store_url": store.url},
        allow_redirects=False,
        timeout=10,
    )
    assert started.status_code == 303, started.text
    at_store = session.get(started.headers["Location"], allow_redirects=False, timeout=30)
    assert at_store.status_code == 302, at_store.text
    back = at_store.headers["Location"]
    assert back.startswith(PUBLIC + "/woocommerce/return?")
    # The return page reads this browser's attempt from its cookie: hand it to Chromium.
    return back
