"""Inviting friends and unsubscribing, in a real headless Chromium against the app on loopback:
the share page's invite form (the error next to the field, then "Invitations sent"), the
rendered invitation email itself (English, and Persian right-to-left), and its unsubscribe
link: a page that asks first, then confirms. Screenshots: tests/browser/screenshots/invite-*,
email-*, unsubscribe-*."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from referral_plugin.app import AppServices, create_app
from referral_plugin.domain.events import Platform
from referral_plugin.models import OutboxMessage
from referral_plugin.models import Program as ProgramRow
from referral_plugin.models.shopper_emails import EmailUnsubscribe
from referral_plugin.services.programs import create_program
from referral_plugin.services.shops import add_shop
from referral_plugin.settings import Settings
from referral_plugin.shopper_email_jobs import prepare_shopper_emails
from tests.browser.conftest import LiveApp, screenshot, serve
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.inbox_support import own_database

PUBLIC = "https://referrals.example.test"
PROGRAM = {
    "name": "Give $5, get $10",
    "kind": "two_sided",
    "friend_reward": {"kind": "store_credit", "amount": "5.00"},
    "advocate_reward": {"kind": "fixed_discount", "amount": "10.00"},
    "appearance": {"color": "#7a2e8c"},
}


@dataclass(frozen=True)
class Store:
    live: LiveApp
    public_id: str

    @property
    def services(self) -> AppServices:
        return self.live.app.extensions["referral_plugin"]

    def page(self, path: str) -> str:
        return f"{self.live.url}/p/{self.public_id}/{path}"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with own_database(tmp_path) as url:
        settings = Settings(
            database_url=url, secret_key="browser-secret-key", encryption_key=TEST_ENCRYPTION_KEY,
            public_base_url=PUBLIC, environment="test", instance_path=tmp_path / "instance",
        )  # fmt: skip
        for live in serve(create_app(settings)):
            services = live.app.extensions["referral_plugin"]
            with services.sessions.begin() as session:
                shop = add_shop(
                    session, platform=Platform.SHOPIFY,
                    domain=f"bella-{uuid.uuid4().hex[:8]}.myshopify.com", currency="USD",
                    credentials={"access_token": "shpat_test"}, box=services.box,
                    name="Bella Ceramics", now=datetime.now(tz=UTC),
                )  # fmt: skip
                created = create_program(session, shop.id, PROGRAM, now=datetime.now(tz=UTC))
                public_id = session.scalars(
                    select(ProgramRow.public_id).where(ProgramRow.id == created.id)
                ).one()
            yield Store(live, public_id or "")


def submit(browser: webdriver.Chrome, selector: str) -> None:
    """Press the button and wait until the next document has loaded."""
    browser.execute_script("window.beforeSubmit = true")
    browser.find_element(By.CSS_SELECTOR, selector).click()
    WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,)).until(
        lambda driver: driver.execute_script(
            "return window.beforeSubmit === undefined && document.readyState === 'complete'"
        )
    )


def join(browser: webdriver.Chrome, store: Store, email: str, lang: str) -> None:
    browser.get(store.page(f"join?lang={lang}"))
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "first_name").send_keys("Ana")
    submit(browser, "form button[type=submit]")


def send_invites(browser: webdriver.Chrome, emails: str) -> None:
    field = browser.find_element(By.ID, "emails")
    field.clear()
    field.send_keys(emails)
    submit(browser, "#invite button[type=submit]")


def rendered_invitations(store: Store) -> list[OutboxMessage]:
    """Render the queued invitations as the worker does; the store's rows."""
    services = store.services
    with services.sessions.begin() as session:
        prepare_shopper_emails(session, now=datetime.now(tz=UTC), services=services)
    with services.sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def show_email(
    browser: webdriver.Chrome, message: OutboxMessage, tmp_path: Path, name: str
) -> None:
    page = tmp_path / f"{name}.html"
    page.write_text(message.payload["html"], encoding="utf-8")
    browser.get(page.as_uri())
    screenshot(browser, name)


def test_invite_friends_from_the_share_page_and_read_the_email(
    browser: webdriver.Chrome, store: Store, tmp_path: Path
) -> None:
    join(browser, store, "ana@example.com", "en")
    heading = browser.find_element(By.ID, "invite_heading")
    assert heading.text == "Invite friends by email"
    send_invites(browser, "ola@example.com, not-an-email")
    error = browser.find_element(By.ID, "emails_error")
    assert error.text == "This is not an email address: not-an-email"
    field = browser.find_element(By.ID, "emails")
    assert field.get_attribute("aria-invalid") == "true"
    assert field.get_attribute("value") == "ola@example.com, not-an-email"
    screenshot(browser, "invite-error")

    send_invites(browser, "ola@example.com marco@example.com")
    notice = browser.find_element(By.CSS_SELECTOR, "#invite .notice[role=status]")
    assert notice.text == "Thank you! Your invitations are on their way."
    assert browser.find_element(By.ID, "emails").get_attribute("value") == ""
    screenshot(browser, "invite-sent")

    ola, marco = rendered_invitations(store)
    assert (ola.recipient, marco.recipient) == ("ola@example.com", "marco@example.com")
    show_email(browser, ola, tmp_path, "email-invite")
    assert browser.find_element(By.TAG_NAME, "h1").text == (
        "Ana sent you $5 in store credit at Bella Ceramics"
    )
    button = browser.find_element(By.LINK_TEXT, "Get your gift")
    assert button.get_attribute("href").startswith(f"{PUBLIC}/r/ANA-")


def test_the_persian_invite_form_and_email_are_right_to_left(
    browser: webdriver.Chrome, store: Store, tmp_path: Path
) -> None:
    join(browser, store, "sara@example.com", "fa")
    label = browser.find_element(By.CSS_SELECTOR, "label[for=emails]")
    field = browser.find_element(By.ID, "emails")
    assert label.text == "نشانی ایمیل دوستانتان"
    assert field.value_of_css_property("direction") == "ltr"  # addresses read left to right
    send_invites(browser, "reza@example.com")
    assert browser.find_element(By.CSS_SELECTOR, "#invite .notice").text == (
        "سپاسگزاریم! دعوت‌نامه‌های شما در راه است."
    )
    screenshot(browser, "invite-sent-fa")

    (reza,) = rendered_invitations(store)
    show_email(browser, reza, tmp_path, "email-invite-fa")
    assert browser.execute_script("return document.documentElement.dir") == "rtl"
    heading = browser.find_element(By.TAG_NAME, "h1").rect
    body = browser.find_element(By.TAG_NAME, "h1").find_element(By.XPATH, "..").rect
    assert heading["x"] + heading["width"] == pytest.approx(body["x"] + body["width"] - 20, abs=2)


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_the_unsubscribe_link_asks_first_then_confirms(
    browser: webdriver.Chrome, store: Store, lang: str
) -> None:
    join(browser, store, "ana@example.com", lang)
    send_invites(browser, "ola@example.com")
    (ola,) = rendered_invitations(store)
    url = ola.payload["headers"]["List-Unsubscribe"].strip("<>").replace(PUBLIC, store.live.url)

    browser.get(url)
    assert browser.execute_script("return document.documentElement.lang") == lang
    button = browser.find_element(By.ID, "unsubscribe")
    assert button.is_displayed()
    screenshot(browser, f"unsubscribe-confirm-{lang}")
    with store.services.sessions() as session:
        assert session.scalars(select(EmailUnsubscribe)).all() == []  # opening changed nothing

    submit(browser, "#unsubscribe")
    done = {"en": "You are unsubscribed", "fa": "اشتراک شما لغو شد"}[lang]
    assert browser.find_element(By.TAG_NAME, "h1").text == done
    screenshot(browser, f"unsubscribe-done-{lang}")
    with store.services.sessions() as session:
        (row,) = session.scalars(select(EmailUnsubscribe)).all()
        assert row.email_hash == ola.payload["unsubscribe_hash"]
