"""The integrations page in a real headless Chromium: a merchant adds a webhook for their CRM
(a field error first, then the secret shown once), sends a test that a real local endpoint
receives signed, and finds the CSV downloads. Screenshots: screenshots/integrations-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from referral_plugin.app import app_services
from referral_plugin.domain.events import Platform
from referral_plugin.merchant_webhook_jobs import HttpWebhookPoster
from referral_plugin.services.webhook_sending import send_due_deliveries
from tests.browser.test_dashboard import Store, click, heading, live_store, screenshot, sign_in
from tests.integration.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401
from tests.merchant_endpoint import MerchantEndpoint, serve_merchant_endpoint


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from live_store(tmp_path, Platform.WOOCOMMERCE, "https://bella.example")


@pytest.fixture
def merchant() -> Iterator[MerchantEndpoint]:
    yield from serve_merchant_endpoint()


def send_webhooks(store: Store) -> int:
    services = app_services(store.live.app)
    report = send_due_deliveries(
        services.sessions.begin,
        poster=HttpWebhookPoster(connect_timeout=1, read_timeout=2, allow_loopback=True),
        box=services.box, now=datetime.now(tz=UTC), worker="browser-test", max_attempts=5,
        disable_after=timedelta(hours=72),
    )  # fmt: skip
    return report.delivered


def test_add_a_webhook_send_a_test_and_find_the_exports(
    browser: webdriver.Chrome, store: Store, smtp_server: SmtpServer, merchant: MerchantEndpoint
) -> None:
    browser.delete_all_cookies()
    sign_in(browser, store, smtp_server)
    click(browser, By.LINK_TEXT, "Integrations")
    assert heading(browser) == "Integrations"
    assert "No webhooks yet." in browser.find_element(By.CSS_SELECTOR, ".empty").text
    screenshot(browser, "integrations-empty")

    # a plain-http address outside this machine is refused next to its field
    field = browser.find_element(By.ID, "url")
    field.send_keys("http://crm.example.com/hooks")
    click(browser, By.CSS_SELECTOR, "#add + form button[type=submit]")
    assert browser.find_element(By.ID, "url-error").text == "The URL must use https."
    assert browser.find_element(By.ID, "url").get_attribute("aria-invalid") == "true"
    screenshot(browser, "integrations-error")

    field = browser.find_element(By.ID, "url")
    field.clear()
    field.send_keys(merchant.url)
    for box in browser.find_elements(By.CSS_SELECTOR, "input[name=events]")[2:]:
        box.click()  # keep the first two events only
    click(browser, By.CSS_SELECTOR, "#add + form button[type=submit]")
    assert heading(browser) == merchant.url
    merchant.secret = browser.find_element(By.ID, "secret").get_attribute("value")
    assert merchant.secret.startswith("whsec_")
    screenshot(browser, "integrations-added")

    click(browser, By.XPATH, "//button[normalize-space()='Send a test event']")
    assert "Test event queued." in browser.find_element(By.CSS_SELECTOR, ".notice").text
    assert send_webhooks(store) == 1
    browser.refresh()
    assert not browser.find_elements(By.ID, "secret")  # shown once
    row = browser.find_element(By.CSS_SELECTOR, "table.list tbody tr").text
    assert "ping" in row and "Delivered" in row and "HTTP 200" in row
    assert [r.signature_ok for r in merchant.received] == [True]
    screenshot(browser, "integrations-delivered")

    click(browser, By.LINK_TEXT, "All integrations")
    assert merchant.url in browser.find_element(By.CSS_SELECTOR, "table.list").text
    downloads = [b.text for b in browser.find_elements(By.CSS_SELECTOR, "#exports ~ form button")]
    assert downloads == ["Download advocates.csv", "Download referrals.csv", "Download rewards.csv"]
    screenshot(browser, "integrations-list")
