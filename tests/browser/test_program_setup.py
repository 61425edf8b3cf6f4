"""The program setup in a real headless Chromium, against the app on loopback: a store without
programs lands on the setup, launches the default two-sided program with one click, then sets
up a tiered program step by step, watching the live preview (the real shopper pages in
sandboxed iframes) change as the friend's reward changes and show errors for an invalid draft;
and the same form without JavaScript is one long form that still saves; and inside Shopify
admin. Every state is saved as a screenshot (screenshots/program-setup-*.png), at phone and
desktop widths."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import select

from referral_plugin.app import app_services
from referral_plugin.domain.events import Platform
from referral_plugin.models import AuditEntry
from referral_plugin.services.programs import list_programs
from referral_plugin.services.shops import add_shop
from tests.browser.conftest import SCREENSHOTS, LiveApp, chromium, live_app, with_session_cookie
from tests.browser.test_dashboard import (  # noqa: F401 - `embedded` is a fixture
    API_KEY,
    API_SECRET,
    APP_BRIDGE_STAND_IN,
    click,
    embedded,
    heading,
    live_store,
)
from tests.shopify_fake_oauth import session_token

ACTOR = "merchant:owner@bella.example"


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """Chromium as the suite's, except that sandboxed iframes render in the page's process:
    isolated in a process of their own (Chromium's default), the preview's frames are often
    left unpainted in a screenshot of the whole page. What the frames hold and may do (no
    script, no forms, no new windows) is the same."""
    yield from chromium("--disable-features=IsolateSandboxedIframes")


@dataclass(frozen=True)
class Store:
    live: LiveApp
    shop_id: int

    def url(self, path: str) -> str:
        return self.live.url + path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A WooCommerce store without programs, on the app's own database."""
    for live in live_app(tmp_path):
        with app_services(live.app).sessions.begin() as session:
            shop = add_shop(
                session, platform=Platform.WOOCOMMERCE, domain="https://bella.example",
                currency="EUR", credentials={}, box=app_services(live.app).box,
                name="Bella Ceramics", email="owner@bella.example", now=datetime.now(tz=UTC),
            )  # fmt: skip
        yield Store(live, shop.id)


def signed_in(browser: webdriver.Chrome, store: Store) -> None:
    """The browser holds a session cookie, as after using the emailed sign-in link."""
    with_session_cookie(browser, store.live, store.shop_id, ACTOR)


def frame_text(browser: webdriver.Chrome, selector: str) -> str:
    """The text of the page shown in the preview iframe `selector`."""
    browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, selector))
    try:
        return browser.find_element(By.TAG_NAME, "body").text
    finally:
        browser.switch_to.default_content()


def until(browser: webdriver.Chrome, condition, timeout: float = 15) -> None:  # type: ignore[no-untyped-def]
    WebDriverWait(browser, timeout).until(condition)


def visible(browser: webdriver.Chrome, selector: str) -> bool:
    return browser.find_element(By.CSS_SELECTOR, selector).is_displayed()


def step_title(browser: webdriver.Chrome) -> str:
    [shown] = [
        s for s in browser.find_elements(By.CSS_SELECTOR, "section.step") if s.is_displayed()
    ]
    return shown.find_element(By.TAG_NAME, "h2").text


def next_step(browser: webdriver.Chrome) -> None:
    browser.find_element(By.CSS_SELECTOR, "[data-next]").click()


def programs_of(store: Store) -> list:  # type: ignore[type-arg]
    with app_services(store.live.app).sessions.begin() as session:
        return list_programs(session, store.shop_id)


def test_defaults_in_one_click_then_a_tiered_program_step_by_step(
    browser: webdriver.Chrome, store: Store
) -> None:
    signed_in(browser, store)
    browser.get(store.url("/admin/programs"))
    assert heading(browser) == "Set up a referral program"  # no programs yet
    until(
        browser,
        lambda d: "Give 15% off, get €10 off" in d.find_element(By.CSS_SELECTOR, ".quick").text,
    )
    assert step_title(browser) == "1. Kind of program"
    assert "Give 15% off, get €10 off" in frame_text(browser, "[data-advocate-frame]")
    assert "Your friend gives you 15% off" in frame_text(browser, "[data-friend-frame]")
    screenshot(browser, "program-setup-start")

    click(browser, By.ID, "launch-now")  # the defaults, one click
    assert urlsplit(browser.current_url).path == "/admin/programs"
    assert browser.find_element(By.ID, "result").text.startswith("“Refer a friend” is live.")
    [program] = programs_of(store)
    assert (program.kind.value, program.active, program.hold_days) == ("two_sided", True, 30)
    assert program.conditions.first_order_only and program.claim_mode.value == "shared_code"
    row = browser.find_element(By.CSS_SELECTOR, "table.programs tbody tr").text
    assert "Give 15% off, get €10 off" in row and "Live" in row
    screenshot(browser, "program-setup-list")

    click(browser, By.ID, "new-program")
    # 1. kind: tiered; only the parts a tiered program needs are shown
    browser.find_element(By.CSS_SELECTOR, "input[name=kind][value=tiered]").click()
    name = browser.find_element(By.ID, "f-name")
    name.clear()
    name.send_keys("Bring three friends")
    assert not visible(browser, ".quick")  # it launched the suggested settings, now changed
    screenshot(browser, "program-setup-step-kind")
    next_step(browser)
    assert step_title(browser) == "2. Rewards"
    assert visible(browser, "[data-part=milestones]") and visible(
        browser, "[data-part=friend_reward]"
    )
    Select(browser.find_element(By.ID, "f-advocate_reward-kind")).select_by_value("")
    assert not visible(browser, "#f-advocate_reward-amount")
    # the friend's reward changes, and so does the preview
    friend_percent = browser.find_element(By.ID, "f-friend_reward-percent")
    friend_percent.clear()
    friend_percent.send_keys("20")
    until(browser, lambda d: "20% off" in frame_text(d, "[data-friend-frame]"))
    assert "Your friend gives you 20% off" in frame_text(browser, "[data-friend-frame]")
    screenshot(browser, "program-setup-step-rewards")
    # an invalid draft shows its errors instead of a stale preview
    friend_percent.clear()
    friend_percent.send_keys("150")
    until(browser, lambda d: visible(d, "[data-preview-errors]"))
    errors = browser.find_element(By.CSS_SELECTOR, "[data-preview-errors]").text
    assert "The friend's reward: Percent must be greater than 0 and at most 100" in errors
    assert not visible(browser, "[data-preview-pages]")
    screenshot(browser, "program-setup-preview-error")
    friend_percent.clear()
    friend_percent.send_keys("20")
    until(browser, lambda d: visible(d, "[data-preview-pages]"))

    next_step(browser)
    assert step_title(browser) == "3. Conditions"
    browser.find_element(By.ID, "f-conditions-minimum_subtotal").send_keys("40")
    until(browser, lambda d: "On orders of €40 or more." in frame_text(d, "[data-friend-frame]"))
    screenshot(browser, "program-setup-step-conditions")
    assert "On orders of €40 or more." in frame_text(browser, "[data-advocate-frame]")
    next_step(browser)
    assert step_title(browser) == "4. Hold period and limits"
    hold = browser.find_element(By.ID, "f-hold_days")
    hold.clear()
    hold.send_keys("14")
    browser.find_element(By.ID, "f-caps-0-limit").send_keys("10")
    screenshot(browser, "program-setup-step-hold")
    next_step(browser)
    assert step_title(browser) == "5. Friends and emails"
    browser.find_element(By.ID, "f-claim_mode-per_friend").click()
    browser.find_element(By.ID, "f-emails-enabled-share_nudge").click()  # off
    until(browser, lambda d: "Get my code" in frame_text(d, "[data-friend-frame]"))
    screenshot(browser, "program-setup-step-friends")
    next_step(browser)
    assert step_title(browser) == "6. Review and launch"
    assert not visible(browser, "[data-next]")
    review = browser.find_element(By.ID, "step-review").text
    assert "The offer: Give 20% off, get €10 off" in review  # the first milestone's reward
    for line in (
        "The advocate gets\nNothing per friend",
        "At friend 5\n€25 off",
        "20% off, with a single-use code of their own",
        "A friend's first order of €40.00 or more",
        "14 days after the friend pays",
        "Each advocate: at most 10 rewarded referrals in total",
        "5 of 6 on",
    ):
        assert line in review, line  # fmt: skip
    advocate_page = frame_text(browser, "[data-advocate-frame]")
    assert "Your reward comes with your friend number 3." in advocate_page
    assert (
        browser.execute_script(  # the sandbox runs none of the page's scripts
            "return document.querySelector('[data-advocate-frame]').contentDocument"
        )
        is None
    )
    screenshot(browser, "program-setup-step-review")
    click(browser, By.ID, "launch")

    tiered = programs_of(store)[-1]
    assert (tiered.name, tiered.kind.value, tiered.hold_days) == (
        "Bring three friends",
        "tiered",
        14,
    )
    assert tiered.advocate_reward is None and [m.count for m in tiered.milestones] == [3, 5, 10]
    assert str(tiered.friend_reward.percent) == "20" and tiered.claim_mode.value == "per_friend"
    assert str(tiered.conditions.minimum_subtotal) == "40" and len(tiered.caps) == 1
    assert "share_nudge" not in {kind.value for kind in tiered.emails.enabled}
    with app_services(store.live.app).sessions.begin() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.shop_id == store.shop_id)
        ).all()
    assert actions == ["program.created", "program.created"]

    # pause it from the list; the wide screen shows the form beside its preview
    click(browser, By.CSS_SELECTOR, f"tr[data-program='{tiered.id}'] button[type=submit]")
    assert "is paused: saved." in browser.find_element(By.ID, "result").text
    browser.set_window_size(1280, 900)
    try:
        browser.get(store.url(f"/admin/programs/{tiered.id}/edit"))
        until(browser, lambda d: "Get my code" in frame_text(d, "[data-friend-frame]"))
        form, preview = (
            browser.find_element(By.CSS_SELECTOR, s) for s in ("#program-form", ".preview")
        )
        assert preview.location["x"] > form.location["x"] + form.size["width"] - 5  # beside
        screenshot(browser, "program-setup-edit-wide", width=1280)
    finally:
        browser.set_window_size(420, 900)


def screenshot(browser: webdriver.Chrome, name: str, width: int = 420) -> Path:
    """The whole page as `screenshots/<name>.png`, from a window as tall as the page."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = int(browser.execute_script("return document.documentElement.scrollHeight"))
    browser.set_window_size(width, height + 200)
    try:
        time.sleep(0.5)  # the preview frames paint at the new size
        assert browser.save_screenshot(str(path)), f"no screenshot for {name}"
    finally:
        browser.set_window_size(width, 900)
    return path


def test_without_javascript_the_setup_is_one_long_form_that_saves(
    browser: webdriver.Chrome, store: Store
) -> None:
    signed_in(browser, store)
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        browser.get(store.url("/admin/programs/new"))
        steps = browser.find_elements(By.CSS_SELECTOR, "section.step")
        assert [step.is_displayed() for step in steps] == [True] * 6
        assert not visible(browser, "[data-step-nav]") and not visible(browser, "[data-step-list]")
        # the first preview comes with the page
        assert "Give 15% off, get €10 off" in frame_text(browser, "[data-advocate-frame]")
        browser.find_element(By.CSS_SELECTOR, "input[name=kind][value=one_sided]").click()
        amount = browser.find_element(By.ID, "f-advocate_reward-amount")
        amount.clear()
        amount.send_keys("ten")
        screenshot(browser, "program-setup-no-script")
        click(browser, By.ID, "launch")
        assert (
            browser.find_element(By.ID, "f-advocate_reward-amount").get_attribute("value") == "ten"
        )
        error = browser.find_element(By.ID, "f-advocate_reward-amount-error").text
        assert error.startswith("The advocate's reward: Amount must be a decimal number")
        assert "Nothing was saved." in browser.find_element(By.ID, "form-errors").text
        screenshot(browser, "program-setup-no-script-error")
        amount = browser.find_element(By.ID, "f-advocate_reward-amount")
        amount.clear()
        amount.send_keys("12.50")
        click(browser, By.ID, "launch")
        assert browser.find_element(By.ID, "result").text.startswith("“Refer a friend” is live.")
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
    [program] = programs_of(store)
    assert (program.kind.value, str(program.advocate_reward.amount)) == ("one_sided", "12.50")
    assert program.friend_reward is None


def test_inside_shopify_admin_the_setup_and_its_preview_carry_the_session_token(
    browser: webdriver.Chrome,
    tmp_path: Path,
    embedded: None,  # noqa: F811 - the fixture imported above
) -> None:
    for shopify in live_store(tmp_path, Platform.SHOPIFY, "bella-ceramics.myshopify.com"):
        token = session_token(shopify.domain, secret=API_SECRET, audience=API_KEY, lifetime=600)
        script = browser.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument", {"source": APP_BRIDGE_STAND_IN % token}
        )
        try:
            browser.delete_all_cookies()
            browser.get(f"{shopify.live.url}/admin/programs?embedded=1&id_token={token}")
            assert heading(browser) == "Programs"
            browser.find_element(By.ID, "new-program").click()  # fetched, not a document load
            until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "form[data-enhanced]"))
            assert step_title(browser) == "1. Kind of program"  # set up after the page swap
            next_step(browser)
            percent = browser.find_element(By.ID, "f-friend_reward-percent")
            percent.clear()
            percent.send_keys("30")
            until(browser, lambda d: "Give 30% off" in d.find_element(By.ID, "step-review")
                  .get_attribute("textContent"))  # fmt: skip
            note = browser.find_element(By.CSS_SELECTOR, "[data-friend-note]").text
            assert "30% off already applied to their cart" in note  # Shopify applies the code
            assert not visible(browser, "[data-friend-frame]")
            screenshot(browser, "program-setup-embedded")
            browser.find_element(By.CSS_SELECTOR, "[data-step-list] li:last-child button").click()
            browser.find_element(By.ID, "launch").click()
            until(browser, lambda d: d.find_elements(By.ID, "result"))
            assert browser.get_cookies() == []  # the token is the only credential
            with app_services(shopify.live.app).sessions.begin() as session:
                names = [p.name for p in list_programs(session, shopify.shop_id)]
            assert names == ["Give $10, get $10", "Refer a friend"]
        finally:
            browser.execute_cdp_cmd(
                "Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]}
            )
