"""The contest's public leaderboard in a real headless Chromium, against the app on loopback:
twelve advocates with entries (paid orders through the order service), the public board with
masked names in English, the advocate's own rank (number 12, below the top ten) through their
signed status link, and the same in Persian, right-to-left with the columns mirrored. The
phone-sized page never scrolls sideways. Screenshots: tests/browser/screenshots/leaderboard-*.png
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from sqlalchemy import select

from referral_plugin.app import app_services, create_app
from referral_plugin.domain.events import OrderEventKind, Platform
from referral_plugin.models import Program as ProgramRow
from referral_plugin.services.advocates import enroll_advocate
from referral_plugin.services.orders import record_order_event
from referral_plugin.services.programs import create_program
from referral_plugin.services.shops import add_shop
from referral_plugin.settings import Settings
from referral_plugin.web.shopper_links import AdvocateRef, status_token
from tests.browser.conftest import LiveApp, screenshot, serve
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.inbox_support import own_database
from tests.integration import builders as b

SECRET_KEY = "leaderboard-secret-key"
CONTEST = {
    "name": "Spring contest",
    "kind": "contest",
    "conditions": {"ends_at": "2100-01-01T00:00:00Z"},
    "appearance": {"color": "#0f766e"},
    "copy": {
        "en": {"headline": "Win a year of coffee"},
        "fa": {"headline": "یک سال قهوه ببرید"},
    },
}
# (email, first name, last name, entries): twelve advocates, the last one the viewer
PEOPLE = [
    ("anna.kowalska@example.com", "Anna", "Kowalska", 7),
    ("marco@example.com", "Marco", "Rossi", 6),
    ("ioana@example.com", "Ioana", None, 5),
    ("sara@example.com", "سارا", "رضایی", 5),
    ("zoe@example.com", None, None, 4),
    ("piotr@example.com", "Piotr", "Nowak", 4),
    ("giulia@example.com", "Giulia", "Bianchi", 3),
    ("mihai@example.com", "Mihai", "Popescu", 3),
    ("lena@example.com", "Lena", "K", 2),
    ("omid@example.com", None, None, 2),
    ("tom@example.com", "Tom", "Baker", 2),
    ("viewer@example.com", "Dana", "Smith", 1),
]


@dataclasses.dataclass(frozen=True)
class Board:
    live: LiveApp
    public_id: str
    viewer_code: str

    def page(self, suffix: str = "", lang: str = "en") -> str:
        return f"{self.live.url}/p/{self.public_id}/leaderboard{suffix}?lang={lang}"


@pytest.fixture
def board(tmp_path: Path) -> Iterator[Board]:
    with own_database(tmp_path) as url:
        settings = Settings(
            database_url=url, secret_key=SECRET_KEY, encryption_key=TEST_ENCRYPTION_KEY,
            public_base_url="https://referrals.example.test", environment="test",
            instance_path=tmp_path / "instance",
        )  # fmt: skip
        app = create_app(settings)
        for live in serve(app):
            public_id, viewer_code = populate(live)
            yield Board(live, public_id, viewer_code)


def populate(live: LiveApp) -> tuple[str, str]:
    """The shop, the contest and its entries; returns the public id and the viewer's code."""
    services = app_services(live.app)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    with services.sessions.begin() as session:
        shop = add_shop(
            session, platform=Platform.SHOPIFY, domain=f"cafe-{uuid.uuid4().hex[:8]}.myshopify.com",
            currency="USD", credentials={"access_token": "shpat_test"}, box=services.box,
            name="Caffè Aurora", now=now,
        )  # fmt: skip
        program = create_program(session, shop.id, CONTEST, now=now)
        public_id = session.scalars(
            select(ProgramRow.public_id).where(ProgramRow.id == program.id)
        ).one()
        codes = [
            enroll_advocate(
                session, shop.id, program.id, email=email, first_name=first, last_name=last, now=now
            ).code
            for email, first, last, _ in PEOPLE
        ]
        for number, (code, (*_, entries)) in enumerate(zip(codes, PEOPLE, strict=True)):
            for entry in range(entries):
                pay(session, shop.id, code, f"{number}-{entry}", now + timedelta(hours=number))
    return public_id, codes[-1]


def pay(session, shop_id: int, code: str, order_id: str, paid_at: datetime) -> None:
    for kind in (OrderEventKind.PLACED, OrderEventKind.PAID):
        event = b.order_event(
            kind, order_id, codes=(code,), email=f"friend-{order_id}@example.com", at=paid_at
        )
        record_order_event(session, shop_id, event, now=paid_at, code_key=b"browser-code-key")


def table(browser: webdriver.Chrome) -> list[list[str]]:
    rows = browser.find_elements(By.CSS_SELECTOR, "table.board tbody tr:not(.gap)")
    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in rows]


def fits_the_phone(browser: webdriver.Chrome) -> bool:
    return browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    )


def test_the_public_board_in_english(browser: webdriver.Chrome, board: Board) -> None:
    browser.get(board.page())

    assert browser.find_element(By.TAG_NAME, "h1").text == "Leaderboard"
    assert "Win a year of coffee" in browser.find_element(By.TAG_NAME, "main").text
    state = browser.find_element(By.ID, "contest_state").text
    assert state == "The contest ends on January 1, 2100 at 12:00\u202fAM (UTC)."
    rows = table(browser)
    assert rows[:5] == [
        ["1", "Anna K.", "7"],
        ["2", "Marco R.", "6"],
        ["3", "Ioana", "5"],
        ["4", "سارا ر.", "5"],  # the same count, reached later
        ["5", "z•••@example.com", "4"],
    ]
    assert len(rows) == 10 and "@example.com" not in " ".join(r[1] for r in rows[:4])
    assert "Entries in total: 44" in browser.find_element(By.TAG_NAME, "main").text
    header = browser.find_element(By.TAG_NAME, "header")
    assert header.value_of_css_property("background-color") == "rgba(15, 118, 110, 1)"
    join = browser.find_element(By.LINK_TEXT, "Take part: get your code")
    assert join.get_attribute("href") == f"{board.live.url}/p/{board.public_id}/join"
    assert fits_the_phone(browser)
    screenshot(browser, "leaderboard-public")
    browser.execute_script("arguments[0].scrollIntoView()", join)
    screenshot(browser, "leaderboard-public-end")


def test_the_advocate_sees_their_own_rank_through_their_status_link(
    browser: webdriver.Chrome, board: Board
) -> None:
    token = status_token(SECRET_KEY, AdvocateRef(board.public_id, board.viewer_code))
    browser.get(board.page(f"/{token}"))

    assert browser.find_element(By.ID, "my_rank").text == "Your rank: 12 · Your entries: 1"
    rows = table(browser)
    assert len(rows) == 11 and rows[-1] == ["12", "Dana S. (you)", "1"]
    mine = browser.find_element(By.CSS_SELECTOR, "tr.me")
    assert mine.get_attribute("aria-current") == "true"
    assert browser.find_element(By.CSS_SELECTOR, "tr.gap").text == "…"  # ranks 11 left out
    assert not browser.find_elements(By.LINK_TEXT, "Take part: get your code")
    assert fits_the_phone(browser)
    screenshot(browser, "leaderboard-own-rank")


def test_the_persian_board_is_right_to_left(browser: webdriver.Chrome, board: Board) -> None:
    token = status_token(SECRET_KEY, AdvocateRef(board.public_id, board.viewer_code))
    browser.get(board.page(f"/{token}", lang="fa"))

    assert browser.execute_script("return document.documentElement.dir") == "rtl"
    assert browser.find_element(By.TAG_NAME, "h1").text == "جدول رده‌بندی"
    assert browser.find_element(By.ID, "my_rank").text == "رتبهٔ شما: 12 · امتیازهای شما: 1"
    first = browser.find_elements(By.CSS_SELECTOR, "table.board tbody tr")[0]
    rank, name, entries = first.find_elements(By.TAG_NAME, "td")
    # mirrored: the rank column is on the right, the entries on the left
    assert rank.rect["x"] > name.rect["x"] > entries.rect["x"]
    assert name.text == "Anna K." and rank.text == "1"
    assert table(browser)[-1] == ["12", "Dana S. (شما)", "1"]
    assert fits_the_phone(browser)
    screenshot(browser, "leaderboard-fa")
