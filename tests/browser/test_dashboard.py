"""The merchant dashboard in a real headless Chromium, against the app on loopback and a real
SMTP server: sign in with the emailed link, read the referrals, approve the review queue in
bulk (select all, confirm, result), adjust an advocate's balance (an error next to the field,
then the ledger entry), and the same pages inside "Shopify admin" (App Bridge stood in by a
script that hands out session tokens, its CDN blocked), where every click is fetched with
`Authorization: Bearer`. Every state is saved as a screenshot (screenshots/dashboard-*.png)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from referral_plugin.app import app_services, create_app
from referral_plugin.domain.events import OrderEventKind, Platform
from referral_plugin.services.orders import record_order_event
from referral_plugin.services.shops import add_shop
from referral_plugin.settings import Settings
from tests.browser.conftest import SCREENSHOTS, LiveApp, full_page, serve
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.dashboard_support import send_sign_in_emails
from tests.inbox_support import own_database
from tests.integration import builders as b
from tests.integration.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401
from tests.shopify_fake_oauth import session_token

PUBLIC = "http://127.0.0.1"  # the links in the email; the test opens them on the live port
API_KEY, API_SECRET = "browser-api-key", "browser-api-secret-long-enough-for-hs256"
LINK = re.compile(r"http://127\.0\.0\.1(/admin/login/[A-Za-z0-9_-]+)")
FLAGGED = ("ana", "ben", "cleo")


@dataclass(frozen=True)
class Store:
    live: LiveApp
    shop_id: int
    domain: str
    email: str

    def url(self, path: str) -> str:
        return self.live.url + path


def seed(app_services_: object, platform: Platform, domain: str, email: str) -> int:
    """A store with one program, three referrals flagged for review (their friends used a
    throwaway email), one converted and one cancelled."""
    with app_services_.sessions.begin() as session:  # type: ignore[attr-defined]
        shop = add_shop(
            session, platform=platform, domain=domain, currency="USD", credentials={},
            box=app_services_.box, name="Bella Ceramics", email=email,  # type: ignore[attr-defined]
            now=datetime.now(tz=UTC),
        )  # fmt: skip
        program = b.program(session, shop.id, b.ONE_SIDED, name="Give $10, get $10")
        orders = [(name, f"friend-{name}@mailinator.com") for name in FLAGGED]
        orders += [("dora", "maria@example.net"), ("eli", "sam@example.org")]
        for number, (name, friend) in enumerate(orders, start=1001):
            advocate = b.advocate(session, shop.id, program.id, email=f"{name}@example.com",
                                  first_name=name.title())  # fmt: skip
            event = b.order_event(OrderEventKind.PAID, str(number), codes=(advocate.code,),
                                  email=friend)  # fmt: skip
            record_order_event(session, shop.id, event, now=b.NOW, code_key=b.CODE_KEY)
        cancel = b.order_event(OrderEventKind.CANCELLED, "1005", at=b.later(2), with_data=False)
        record_order_event(session, shop.id, cancel, now=b.later(2), code_key=b.CODE_KEY)
        return shop.id


def live_store(tmp_path: Path, platform: Platform, domain: str) -> Iterator[Store]:
    """The app on loopback with its own database, and the seeded store."""
    with own_database(tmp_path) as url:
        settings = Settings(
            database_url=url, secret_key="browser-secret-key", encryption_key=TEST_ENCRYPTION_KEY,
            public_base_url=PUBLIC, environment="test", instance_path=tmp_path / "instance",
            shopify_api_key=API_KEY, shopify_api_secret=API_SECRET,
        )  # fmt: skip
        for live in serve(create_app(settings)):
            email = "owner@bella.example"
            shop_id = seed(app_services(live.app), platform, domain, email)
            yield Store(live, shop_id, domain, email)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from live_store(tmp_path, Platform.WOOCOMMERCE, "https://bella.example")


def screenshot(browser: webdriver.Chrome, name: str) -> Path:
    """The whole page as `screenshots/<name>.png` (the shared helper's window resize leaves
    the bottom of long pages out: the headless window is taller than its viewport)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    browser.set_window_size(420, 900)  # a phone: the pages are mobile-first
    return full_page(browser, SCREENSHOTS / f"{name}.png")


def wait_for_page(browser: webdriver.Chrome, action) -> None:  # type: ignore[no-untyped-def]
    """Run `action` (a click or a submit), then wait until the next document has loaded."""
    browser.execute_script("window.beforeAction = true")
    action()
    WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,)).until(
        lambda driver: driver.execute_script(
            "return window.beforeAction === undefined && document.readyState === 'complete'"
        )
    )


def heading(browser: webdriver.Chrome) -> str:
    return browser.find_element(By.TAG_NAME, "h1").text


def click(browser: webdriver.Chrome, how: str, what: str) -> None:
    wait_for_page(browser, browser.find_element(how, what).click)


def emailed_link(store: Store, smtp_server: SmtpServer) -> str:
    """Send the queued sign-in email through the real SMTP server; the link's path."""
    assert send_sign_in_emails(store.live.app, store.shop_id, smtp_server.mailer()) == 1
    [received] = smtp_server.handler.received
    assert received["X-Envelope-To"] == store.email
    return LINK.search(received.get_payload(decode=True).decode()).group(1)


def sign_in(browser: webdriver.Chrome, store: Store, smtp_server: SmtpServer) -> None:
    browser.get(store.url("/admin/"))
    assert urlsplit(browser.current_url).path == "/admin/login"
    assert browser.find_element(By.CSS_SELECTOR, "label[for=address]").text == (
        "Store address or admin email"
    )
    screenshot(browser, "dashboard-sign-in")
    browser.find_element(By.ID, "address").send_keys("bella.example")
    click(browser, By.CSS_SELECTOR, "main button[type=submit]")
    assert "Check your store's admin inbox" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    screenshot(browser, "dashboard-sign-in-sent")

    browser.get(store.url(emailed_link(store, smtp_server)))
    assert heading(browser) == "Sign in to Bella Ceramics"
    screenshot(browser, "dashboard-sign-in-link")
    click(browser, By.CSS_SELECTOR, "main button[type=submit]")
    assert heading(browser) == "Overview"


def test_sign_in_read_referrals_approve_in_bulk_and_adjust_a_balance(
    browser: webdriver.Chrome, store: Store, smtp_server: SmtpServer
) -> None:
    browser.delete_all_cookies()
    sign_in(browser, store, smtp_server)
    notice = browser.find_element(By.CSS_SELECTOR, "main .notice").text
    assert notice.startswith("3 referrals wait for your review.")
    screenshot(browser, "dashboard-overview")

    # the referrals, then only the cancelled one with its reason
    click(browser, By.LINK_TEXT, "Referrals")
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.list tbody tr")) == 5
    assert browser.find_element(By.CSS_SELECTOR, "nav a[aria-current=page]").text == "Referrals"
    screenshot(browser, "dashboard-referrals")
    Select(browser.find_element(By.ID, "status")).select_by_visible_text("Reversed")
    click(browser, By.CSS_SELECTOR, ".filters button")
    [row] = browser.find_elements(By.CSS_SELECTOR, "table.list tbody tr")
    assert "The order was cancelled" in row.text and "eli@example.com" in row.text

    # the review queue: nothing ticked, nothing to press; select all, confirm, result
    click(browser, By.LINK_TEXT, "Review")
    cards = browser.find_elements(By.CSS_SELECTOR, ".flagged > li")
    assert len(cards) == 3
    assert "The friend used a throwaway email address." in cards[0].text
    bulk = browser.find_element(By.CSS_SELECTOR, "button[name=decision][value=approve]")
    assert not bulk.is_enabled()
    screenshot(browser, "dashboard-review-queue")
    browser.find_element(By.CSS_SELECTOR, "[data-select-all]").click()
    assert bulk.is_enabled()
    assert browser.find_element(By.CSS_SELECTOR, "[data-selected-count]").text == "3"
    screenshot(browser, "dashboard-review-selected")
    wait_for_page(browser, bulk.click)
    assert heading(browser) == "Approve 3 referrals?"
    screenshot(browser, "dashboard-review-confirm")
    browser.find_element(By.ID, "note").send_keys("Checked the orders by phone")
    click(browser, By.CSS_SELECTOR, "main form button[type=submit]")
    result = browser.find_element(By.ID, "result").text
    assert result.startswith("Approved 3 referrals.")
    assert "Nothing to review." in browser.find_element(By.CSS_SELECTOR, ".empty").text
    screenshot(browser, "dashboard-review-done")

    # an advocate: a missing reason is named next to its field, then the adjustment lands
    click(browser, By.LINK_TEXT, "Advocates")
    screenshot(browser, "dashboard-advocates")
    click(browser, By.LINK_TEXT, "ana@example.com")
    browser.find_element(By.ID, "amount").send_keys("5.00")
    click(browser, By.CSS_SELECTOR, "#adjust ~ form button[type=submit]")
    reason = browser.find_element(By.ID, "reason")
    assert reason.get_attribute("aria-invalid") == "true"
    assert "Reason is required" in browser.find_element(By.ID, "reason-error").text
    screenshot(browser, "dashboard-advocate-adjust-error")
    reason.send_keys("Thank you for the photos")
    click(browser, By.CSS_SELECTOR, "#adjust ~ form button[type=submit]")
    assert "Balance adjusted." in browser.find_element(By.CSS_SELECTOR, "[role=status]").text
    first_entry = browser.find_element(By.CSS_SELECTOR, "table.list:last-of-type tbody tr").text
    assert "Manual adjustment" in first_entry and "Thank you for the photos" in first_entry
    assert "$15.00" in browser.find_element(By.CSS_SELECTOR, ".figures").text
    screenshot(browser, "dashboard-advocate")

    click(browser, By.LINK_TEXT, "Rewards")
    assert "Totals in USD" in browser.find_element(By.TAG_NAME, "main").text
    screenshot(browser, "dashboard-rewards")

    # the keyboard: the first Tab reaches the skip link, visibly focused
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.text == "Skip to content"
    assert focused.value_of_css_property("outline-style") == "solid"

    click(browser, By.CSS_SELECTOR, ".sign-out button")
    assert "You are signed out." in browser.find_element(By.CSS_SELECTOR, ".notice").text
    browser.get(store.url("/admin/review"))
    assert urlsplit(browser.current_url).path == "/admin/login"


# --- inside Shopify admin ----------------------------------------------------------------------

APP_BRIDGE_STAND_IN = """window.shopify = {idToken: function () {
  window.tokensHandedOut = (window.tokensHandedOut || 0) + 1;
  return Promise.resolve(%r);
}};"""


@pytest.fixture
def embedded(browser: webdriver.Chrome) -> Iterator[None]:
    """Block Shopify's CDN; the stand-in script plays App Bridge for each new document."""
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["https://cdn.shopify.com/*"]})
    yield
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    browser.execute_cdp_cmd("Network.disable", {})


def test_inside_shopify_admin_every_click_carries_a_fresh_session_token(
    browser: webdriver.Chrome, tmp_path: Path, embedded: None
) -> None:
    for store in live_store(tmp_path, Platform.SHOPIFY, "bella-ceramics.myshopify.com"):
        token = session_token(store.domain, secret=API_SECRET, audience=API_KEY, lifetime=600)
        script = browser.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument", {"source": APP_BRIDGE_STAND_IN % token}
        )
        try:
            browse_embedded(browser, store.live, token)
        finally:
            browser.execute_cdp_cmd(
                "Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]}
            )


def until(browser: webdriver.Chrome, condition) -> None:  # type: ignore[no-untyped-def]
    """Wait for `condition` while the script swaps the page (elements go stale meanwhile)."""
    WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,)).until(condition)


def browse_embedded(browser: webdriver.Chrome, live: LiveApp, token: str) -> None:
    browser.delete_all_cookies()
    browser.get(f"{live.url}/admin/?embedded=1&id_token={token}")
    assert heading(browser) == "Overview"
    assert not browser.find_elements(By.CSS_SELECTOR, ".sign-out")
    screenshot(browser, "dashboard-embedded-overview")

    browser.find_element(By.LINK_TEXT, "Review").click()  # fetched, not a document load
    until(browser, lambda driver: heading(driver) == "Review queue")
    assert urlsplit(browser.current_url).path == "/admin/review"
    assert browser.get_cookies() == []  # no cookie at all: the token is the credential
    browser.find_element(By.CSS_SELECTOR, "button[name=reject_one]").click()
    until(browser, lambda driver: heading(driver) == "Reject 1 referral?")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    until(browser, lambda driver: driver.find_elements(By.ID, "result"))
    assert browser.find_element(By.ID, "result").text.startswith("Rejected 1 referral.")
    assert len(browser.find_elements(By.CSS_SELECTOR, ".flagged > li")) == 2
    assert browser.execute_script("return window.tokensHandedOut") == 3
    screenshot(browser, "dashboard-embedded-review")
