"""Starting, reading and ending an A/B test from the dashboard in a real headless Chromium:
signed in with the emailed link, the merchant picks "Start an A/B test" for a two-sided program,
gives variant B's friends a higher discount and holds out 10%, is told about an impossible
holdout next to its input, sees each variant's offer and pages, starts the test, reads it on
the results page, then ends it after the confirmation. Screenshots at phone width:
screenshots/experiment-setup-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from referral_plugin.app import app_services
from referral_plugin.domain.events import Platform
from referral_plugin.services.programs import get_program
from tests.browser.test_dashboard import Store, click, heading, live_store, sign_in
from tests.browser.test_program_setup import (  # noqa: F401 - `browser` is a fixture
    browser,
    frame_text,
    screenshot,
    visible,
)
from tests.integration import builders as b
from tests.integration.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401

NAME = "Friends get 15%"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from live_store(tmp_path, Platform.WOOCOMMERCE, "https://bella.example")


def a_two_sided_program(store: Store) -> int:
    with app_services(store.live.app).sessions.begin() as session:
        return b.program(session, store.shop_id, b.TWO_SIDED, name=NAME).id


def test_a_merchant_starts_a_test_with_a_richer_friend_offer_and_a_holdout_then_ends_it(
    browser: webdriver.Chrome,  # noqa: F811 - the fixture imported above
    store: Store,
    smtp_server: SmtpServer,
) -> None:
    program_id = a_two_sided_program(store)
    browser.delete_all_cookies()
    sign_in(browser, store, smtp_server)

    click(browser, By.LINK_TEXT, "A/B tests")
    assert "No A/B test is running." in browser.find_element(By.CSS_SELECTOR, ".empty").text
    screenshot(browser, "experiment-setup-list")
    click(browser, By.CSS_SELECTOR, f"a[aria-label='Start an A/B test of {NAME}']")
    assert heading(browser) == f"Start an A/B test: {NAME}"

    # the suggestion: A is the program's offer, B gives friends 5 points more; only the inputs
    # of the chosen rewards show
    offers = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "[data-variant-offer]")]
    assert offers[0].startswith("Give 15% off") and offers[1].startswith("Give 20% off")
    assert not visible(browser, "#f-experiment-variants-0-friend_reward-percent")
    assert visible(browser, "#f-experiment-variants-1-friend_reward-percent")
    assert not visible(browser, "#f-experiment-variants-1-advocate_reward-amount")
    assert not visible(browser, "#f-experiment-variants-2-name")  # one more offer: folded
    browser.find_element(By.CSS_SELECTOR, ".more-variant summary").click()
    third = Select(browser.find_element(By.ID, "f-experiment-variants-2-friend_reward-kind"))
    third.select_by_value("percent_discount")
    assert visible(browser, "#f-experiment-variants-2-friend_reward-percent")  # shown on choice
    third.select_by_value("")
    screenshot(browser, "experiment-setup-form")
    browser.find_element(By.CSS_SELECTOR, "[data-variant=b] details summary").click()
    assert "Give 20% off" in frame_text(browser, "[data-variant=b] details iframe")
    screenshot(browser, "experiment-setup-preview")

    name = browser.find_element(By.ID, "f-experiment-variants-1-name")
    name.clear()
    name.send_keys("Friends get 25%")
    percent = browser.find_element(By.ID, "f-experiment-variants-1-friend_reward-percent")
    percent.clear()
    percent.send_keys("25")
    click(browser, By.ID, "preview-offers")  # nothing saved, the offers as typed
    offers = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "[data-variant-offer]")]
    assert offers[1].startswith("Give 25% off")
    holdout = browser.find_element(By.ID, "f-experiment-holdout_percent")
    holdout.clear()
    holdout.send_keys("60")
    click(browser, By.ID, "save-test")
    error = browser.find_element(By.ID, "f-experiment-holdout_percent-error").text
    assert error.startswith("Holdout must be"), error
    assert "Nothing was saved." in browser.find_element(By.ID, "form-errors").text
    assert browser.find_element(By.ID, "f-experiment-variants-1-name").get_attribute("value") == (
        "Friends get 25%"
    )
    screenshot(browser, "experiment-setup-error")

    holdout = browser.find_element(By.ID, "f-experiment-holdout_percent")
    holdout.clear()
    holdout.send_keys("10")
    click(browser, By.ID, "save-test")

    assert heading(browser) == f"A/B test: {NAME}"
    result = browser.find_element(By.ID, "result").text
    assert result.startswith("The test has started.") and "or the holdout (10%)" in result
    groups = browser.find_elements(By.CSS_SELECTOR, "table.list tbody th[scope=row]")
    assert [g.text for g in groups] == ["A (control)", "Friends get 25%", "Holdout"]
    table = browser.find_element(By.CSS_SELECTOR, "table.list").text
    assert "Give 25% off" in table
    screenshot(browser, "experiment-setup-results")
    with app_services(store.live.app).sessions.begin() as session:
        experiment = get_program(session, store.shop_id, program_id).experiment
    assert experiment is not None and experiment.holdout_percent == 10
    assert [str(v.friend_reward.percent) if v.friend_reward else None
            for v in experiment.variants] == [None, "25"]  # fmt: skip

    click(browser, By.ID, "end-test")
    assert heading(browser) == f"End the A/B test of “{NAME}”?"
    assert "Nobody has joined a group yet" in browser.find_element(By.TAG_NAME, "main").text
    screenshot(browser, "experiment-setup-end")
    click(browser, By.ID, "end-test")
    assert browser.find_element(By.ID, "result").text.startswith(
        f"The A/B test of “{NAME}” has ended."
    )
    screenshot(browser, "experiment-setup-ended")
    with app_services(store.live.app).sessions.begin() as session:
        assert get_program(session, store.shop_id, program_id).experiment is None
