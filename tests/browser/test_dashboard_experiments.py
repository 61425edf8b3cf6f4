"""The A/B test results in a real headless Chromium: from the nav to a test's page, each group
with its offer, numbers and verdict. Screenshots: screenshots/experiments-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from referral_plugin.domain.events import Platform
from tests.browser.test_dashboard import Store, click, heading, live_store, screenshot, sign_in
from tests.edge.test_dashboard_experiments import a_test
from tests.integration.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from live_store(tmp_path, Platform.WOOCOMMERCE, "https://bella.example")


def test_a_merchant_reads_an_ab_test(
    browser: webdriver.Chrome, store: Store, smtp_server: SmtpServer
) -> None:
    a_test(store.live.app, store.shop_id)
    browser.delete_all_cookies()
    sign_in(browser, store, smtp_server)

    click(browser, By.LINK_TEXT, "A/B tests")
    assert heading(browser) == "A/B tests"
    screenshot(browser, "experiments-list")
    click(browser, By.LINK_TEXT, "Spring")

    assert heading(browser) == "A/B test: Spring"
    groups = browser.find_elements(By.CSS_SELECTOR, "table.list tbody th[scope=row]")
    assert [g.text for g in groups] == ["Ten off (control)", "Twenty in credit", "Holdout"]
    assert "Too early to tell" in browser.find_element(By.CSS_SELECTOR, "table.list").text
    screenshot(browser, "experiments-results")
