"""The dashboard's Grow page in a real headless Chromium against the app on loopback: signed in
(a cookie session, as a used sign-in link leaves it), pick the repeat buyers of the program,
tick two customers (the bulk bar counts them), confirm, and read the result; the two are
advocates now and the list holds the rest. Screenshots: screenshots/segments-*.png."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from referral_plugin.app import app_services
from referral_plugin.email_links import email_hash_key
from referral_plugin.models import Advocate, OutboxMessage
from tests.browser.conftest import LiveApp, live_app, with_session_cookie
from tests.browser.test_dashboard import click, heading, screenshot, wait_for_page
from tests.integration.email_builders import Store
from tests.integration.segment_builders import segment_store


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[LiveApp, Store]]:
    for served in live_app(tmp_path):
        services = app_services(served.app)
        with services.sessions.begin() as session:
            domain = f"grow-{uuid.uuid4().hex[:8]}.myshopify.com"
            store = segment_store(session, domain, email_hash_key(services.settings.secret_key))
        yield served, store


def signed_in(browser: webdriver.Chrome, live: LiveApp, store: Store) -> None:
    with_session_cookie(browser, live, store.shop.id)


def test_pick_a_segment_tick_two_customers_confirm_and_see_the_result(
    browser: webdriver.Chrome, live: tuple[LiveApp, Store]
) -> None:
    served, store = live
    signed_in(browser, served, store)
    browser.get(served.url + "/admin/")
    click(browser, By.LINK_TEXT, "Grow")

    assert heading(browser) == "Grow: invite your best customers"
    Select(browser.find_element(By.ID, "segment")).select_by_visible_text("Repeat buyers")
    click(browser, By.CSS_SELECTOR, ".filters button")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.list tbody tr")
    assert [row.find_element(By.CSS_SELECTOR, "input").get_attribute("value") for row in rows] == [
        "Ben@Example.com", "cara@example.com", "josmith@gmail.com", "kim@example.com",
    ]  # fmt: skip
    invite_selected = browser.find_element(By.CSS_SELECTOR, "button[data-needs-selection]")
    assert not invite_selected.is_enabled()
    screenshot(browser, "segments-list")

    for email in ("cara@example.com", "kim@example.com"):
        browser.find_element(By.CSS_SELECTOR, f"input[name=emails][value='{email}']").click()
    assert browser.find_element(By.CSS_SELECTOR, "[data-selected-count]").text == "2"
    assert invite_selected.is_enabled()
    screenshot(browser, "segments-selected")
    wait_for_page(browser, invite_selected.click)

    assert heading(browser).startswith("Invite 2 customers to")
    confirm_rows = browser.find_elements(By.CSS_SELECTOR, "table.list tbody tr")
    assert [r.text.split("\n")[0].split(" ")[0] for r in confirm_rows] == [
        "cara@example.com", "kim@example.com",
    ]  # fmt: skip
    screenshot(browser, "segments-confirm")
    click(browser, By.CSS_SELECTOR, "main form button[type=submit]")

    result = browser.find_element(By.ID, "result").text
    assert result.startswith("Invited 2 customers")
    assert "2 more customers of this segment can be invited." in result
    left = browser.find_elements(By.CSS_SELECTOR, "table.list tbody input[name=emails]")
    assert [box.get_attribute("value") for box in left] == ["Ben@Example.com", "josmith@gmail.com"]
    screenshot(browser, "segments-done")
    with app_services(served.app).sessions.begin() as session:
        joined = set(
            session.scalars(select(Advocate.email).where(Advocate.shop_id == store.shop.id))
        )
        welcomed = set(
            session.scalars(
                select(OutboxMessage.recipient).where(
                    OutboxMessage.shop_id == store.shop.id, OutboxMessage.kind == "welcome"
                )
            )
        )
    assert joined == {"anna@example.com", "cara@example.com", "kim@example.com"}
    assert welcomed == {"cara@example.com", "kim@example.com"}
