"""The analytics page in a real headless Chromium, against the app on loopback with its own
database holding the hand-computed data set (`tests/integration/analytics_world.py`) and the
app's clock pinned to 2026-04-10: the cards show the hand values, hovering a number, tabbing
to one and tapping one each show its formula with the period's numbers (Escape hides it),
the form's presets give shareable URLs, a bad date is named on the page, and a shop without
data is told what to do. Desktop and phone widths are saved as screenshots
(screenshots/analytics-*.png)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from referral_plugin.app import app_services
from tests.browser.conftest import (
    SCREENSHOTS,
    LiveApp,
    full_page,
    live_app,
    with_session_cookie,
)
from tests.dashboard_support import connect_shop
from tests.integration import builders as b
from tests.integration.analytics_world import build_world

NOW = datetime(2026, 4, 10, 15, 30, tzinfo=UTC)
MARCH = "/admin/analytics?period=custom&from=2026-03-01&to=2026-03-31"
DESKTOP, PHONE = 1280, 420
# The hand values of March beside the 31 days before (tests/integration/test_analytics.py)
CARDS = {
    "Net referred revenue": ("$400.00", "Previous period: $80.00",
                             "▲ up (better) $320.00 (+400.0%)"),
    "Return on rewards (ROI)": ("788.9%", "Previous period: 1,042.9%", "▼ down (worse) 254.0 pts"),
    "Cost per referred customer (CAC)": ("$11.25", "Previous period: $7.00",
                                         "▲ up (worse) $4.25 (+60.7%)"),
    "Referral rate": ("30.0%", "Previous period: 33.3%", "▼ down (worse) 3.3 pts"),
    "Friend conversion rate": ("75.0%", "Previous period: 50.0%", "▲ up (better) 25.0 pts"),
    "Rewards issued": ("$45.00", "Previous period: $7.00", "▲ up (worse) $38.00 (+542.9%)"),
}  # fmt: skip
ROI_FORMULA = (
    "Return on rewards (ROI) = (net referred revenue - rewards issued) ÷ rewards issued"
    " = ($400.00 - $45.00) ÷ $45.00 = 788.9%"
)


@dataclass(frozen=True)
class Store:
    live: LiveApp
    shop_id: int

    def url(self, path: str) -> str:
        return self.live.url + path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    for live in live_app(tmp_path, clock=lambda: NOW):
        with app_services(live.app).sessions.begin() as session:
            shop_id = build_world(session).shop_id
            b.program(
                session, shop_id, b.ONE_SIDED, name="Spring",
                conditions={"starts_at": "2026-03-10T00:00:00Z",
                            "ends_at": "2026-04-01T00:00:00Z"},
            )  # fmt: skip
        yield Store(live, shop_id)


def sign_in(browser: webdriver.Chrome, store: Store, shop_id: int) -> None:
    with_session_cookie(browser, store.live, shop_id)


def screenshot(browser: webdriver.Chrome, name: str, width: int) -> Path:
    """The whole page at `width` as `screenshots/<name>.png`."""
    SCREENSHOTS.mkdir(exist_ok=True)
    return full_page(browser, SCREENSHOTS / f"{name}.png", width)


def open_at(browser: webdriver.Chrome, url: str, width: int) -> None:
    browser.set_window_size(width, 900)
    browser.get(url)


def cards(browser: webdriver.Chrome) -> dict[str, WebElement]:
    """The page's cards by label, once it shows as many as CARDS (a read right after `get`
    once found one of six on a loaded machine; the callers' assertions still check them)."""
    with contextlib.suppress(TimeoutException):  # the caller's assertion names what is missing
        wait_until(
            browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, ".card")) >= len(CARDS)
        )
    return {
        card.find_element(By.CSS_SELECTOR, ".card-label").text: card
        for card in browser.find_elements(By.CSS_SELECTOR, ".card")
    }


def explanation(button: WebElement) -> WebElement:
    return button.find_element(By.XPATH, "..").find_element(By.CSS_SELECTOR, "[role=tooltip]")


def away(browser: webdriver.Chrome) -> None:
    """Move the pointer off every number, onto the page's heading."""
    ActionChains(browser).move_to_element(browser.find_element(By.TAG_NAME, "h1")).perform()


def wait_until(browser: webdriver.Chrome, check) -> None:  # type: ignore[no-untyped-def]
    WebDriverWait(browser, 10, ignored_exceptions=(WebDriverException,)).until(lambda _: check())


def test_the_cards_show_the_hand_values_and_explain_them_on_hover_focus_and_tap(
    browser: webdriver.Chrome, store: Store
) -> None:
    sign_in(browser, store, store.shop_id)
    open_at(browser, store.url(MARCH), DESKTOP)

    shown = cards(browser)
    assert list(shown) == list(CARDS)
    for label, (value, previous, change) in CARDS.items():
        card = shown[label]
        assert card.find_element(By.CSS_SELECTOR, ".number-button").text == value, label
        lines = card.find_element(By.CSS_SELECTOR, ".card-previous").text
        assert previous in lines, label
        assert (
            " ".join(
                card.find_element(By.CSS_SELECTOR, ".change").get_attribute("textContent").split()
            )
            == change
        ), label
    assert browser.find_element(By.CSS_SELECTOR, "nav a[aria-current=page]").text == "Analytics"

    # hover: the explanation appears beside the number, with the period's numbers
    roi = shown["Return on rewards (ROI)"].find_element(By.CSS_SELECTOR, ".number-button")
    assert not explanation(roi).is_displayed()
    ActionChains(browser).move_to_element(roi).perform()
    wait_until(browser, explanation(roi).is_displayed)
    assert explanation(roi).text.startswith(ROI_FORMULA)
    described = roi.get_attribute("aria-describedby")
    assert browser.find_element(By.ID, described) == explanation(roi)
    screenshot(browser, "analytics-desktop-hover", DESKTOP)

    # keyboard: tab from ROI to CAC, the next number; Escape hides it again
    away(browser)  # the pointer leaves the card
    roi.send_keys(Keys.NULL)  # focus ROI without a click
    ActionChains(browser).send_keys(Keys.TAB).perform()
    cac = shown["Cost per referred customer (CAC)"].find_element(By.CSS_SELECTOR, "button")
    assert browser.switch_to.active_element == cac
    wait_until(browser, explanation(cac).is_displayed)
    assert explanation(cac).text.startswith(
        "Cost per referred customer (CAC) = rewards issued ÷ new referred customers"
        " = $45.00 ÷ 4 = $11.25"
    )
    assert not explanation(roi).is_displayed()
    screenshot(browser, "analytics-desktop-focus", DESKTOP)
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    wait_until(browser, lambda: not explanation(cac).is_displayed())

    # the table of every other metric explains itself the same way
    k_factor = browser.find_element(By.CSS_SELECTOR, "#metric-k_factor .number-button")
    assert k_factor.text == "1.00"
    ActionChains(browser).move_to_element(k_factor).perform()
    wait_until(browser, explanation(k_factor).is_displayed)
    assert "= 4 ÷ 4 = 1.00" in explanation(k_factor).text
    away(browser)
    screenshot(browser, "analytics-desktop", DESKTOP)

    # a phone: a tap opens the explanation, a tap elsewhere closes it
    open_at(browser, store.url(MARCH), PHONE)
    roi = cards(browser)["Return on rewards (ROI)"].find_element(By.CSS_SELECTOR, "button")
    roi.click()
    wait_until(browser, explanation(roi).is_displayed)
    assert explanation(roi).text.startswith(ROI_FORMULA)
    screenshot(browser, "analytics-phone-tap", PHONE)
    browser.find_element(By.TAG_NAME, "h1").click()
    wait_until(browser, lambda: not explanation(roi).is_displayed())
    screenshot(browser, "analytics-phone", PHONE)


def test_the_form_makes_shareable_views_and_names_a_bad_date(
    browser: webdriver.Chrome, store: Store
) -> None:
    sign_in(browser, store, store.shop_id)
    open_at(browser, store.url("/admin/analytics"), DESKTOP)
    assert browser.find_element(By.ID, "from").get_attribute("value") == "2026-03-12"

    Select(browser.find_element(By.ID, "period")).select_by_visible_text("Last month")
    browser.find_element(By.CSS_SELECTOR, ".analytics-controls button").click()
    wait_until(browser, lambda: "period=last_month" in browser.current_url)
    assert cards(browser)["Net referred revenue"].find_element(By.TAG_NAME, "button").text == (
        "$400.00"
    )
    assert browser.find_element(By.ID, "to").get_attribute("value") == "2026-03-31"

    campaign = Select(browser.find_element(By.ID, "period"))
    campaign.select_by_visible_text("Campaign: Spring, 10 Mar 2026 to 31 Mar 2026 (22 days)")
    browser.find_element(By.CSS_SELECTOR, ".analytics-controls button").click()
    wait_until(browser, lambda: "period=campaign-" in browser.current_url)
    assert browser.find_element(By.ID, "from").get_attribute("value") == "2026-03-10"

    # typing a date picks custom dates; an impossible range is named next to its field
    to = browser.find_element(By.ID, "to")
    browser.execute_script("arguments[0].value = '2026-03-09'", to)
    browser.execute_script("arguments[0].dispatchEvent(new Event('input', {bubbles: true}))", to)
    assert Select(browser.find_element(By.ID, "period")).first_selected_option.text == (
        "Custom dates"
    )
    browser.find_element(By.CSS_SELECTOR, ".analytics-controls button").click()
    wait_until(browser, lambda: "period=custom" in browser.current_url)
    query = parse_qs(urlsplit(browser.current_url).query)
    assert (query["from"], query["to"]) == (["2026-03-10"], ["2026-03-09"])
    assert browser.find_element(By.ID, "to").get_attribute("aria-invalid") == "true"
    assert browser.find_element(By.ID, "to-error").text == "To must not be before from."
    assert (
        "To: must not be before from" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    )
    screenshot(browser, "analytics-bad-date", DESKTOP)
    open_at(browser, browser.current_url, PHONE)
    screenshot(browser, "analytics-phone-bad-date", PHONE)


def test_a_shop_without_data_is_told_to_share_its_program_link(
    browser: webdriver.Chrome, store: Store
) -> None:
    shop = connect_shop(store.live.app)
    with app_services(store.live.app).sessions.begin() as session:
        b.program(session, shop.id, b.ONE_SIDED, name="Friends of Bella")
    sign_in(browser, store, shop.id)
    open_at(browser, store.url("/admin/analytics"), DESKTOP)

    empty = browser.find_element(By.CSS_SELECTOR, ".empty")
    assert "No referral activity in these dates yet" in empty.text
    assert "share your program link" in empty.text
    assert "/join" in empty.find_element(By.CSS_SELECTOR, "a").get_attribute("href")
    screenshot(browser, "analytics-empty", DESKTOP)
    open_at(browser, store.url("/admin/analytics"), PHONE)
    screenshot(browser, "analytics-phone-empty", PHONE)
