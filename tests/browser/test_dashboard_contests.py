"""A contest's page in a real headless Chromium: the standings, then a seeded draw and the
recorded result. Screenshots: screenshots/contest-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from referral_plugin.domain.events import Platform
from tests.browser.test_dashboard import Store, click, heading, live_store, screenshot, sign_in
from tests.edge.test_contests_api import ENDED
from tests.edge.test_dashboard_contests import a_contest
from tests.integration.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from live_store(tmp_path, Platform.WOOCOMMERCE, "https://bella.example")


def test_a_merchant_draws_the_winners_of_an_ended_contest(
    browser: webdriver.Chrome, store: Store, smtp_server: SmtpServer
) -> None:
    a_contest(store.live.app, store.shop_id, ENDED)
    browser.delete_all_cookies()
    sign_in(browser, store, smtp_server)
    click(browser, By.LINK_TEXT, "Contests")
    click(browser, By.LINK_TEXT, "Winter contest")
    assert heading(browser) == "Winter contest"
    ranks = browser.find_elements(By.CSS_SELECTOR, "table.list tbody tr")
    assert [r.text.split("\n")[0][:8] for r in ranks][:2] == ["1 Anna a", "2 Bea be"]
    screenshot(browser, "contest-standings")

    browser.find_element(By.ID, "seed").send_keys("Lotto 2020-02-01: 4 8 15 16 23 42")
    click(browser, By.XPATH, "//button[normalize-space()='Draw the winners']")
    draw = browser.find_element(By.CSS_SELECTOR, "article.draw")
    assert "new" in draw.find_element(By.TAG_NAME, "h3").text
    assert "Lotto 2020-02-01: 4 8 15 16 23 42" in draw.text
    screenshot(browser, "contest-drawn")
