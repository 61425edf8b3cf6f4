"""A real headless Chromium (Debian's `chromium` and `chromium-driver`, driven by Selenium)
against the app served on loopback. `.ci/run` installs both packages; without them these tests
fail and say so. Screenshots go to `tests/browser/screenshots/` (not committed) for a person to
look at."""

from __future__ import annotations

import base64
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from werkzeug.serving import make_server

from referral_plugin.app import app_services, create_app
from referral_plugin.services.merchant_sessions import start_session
from referral_plugin.settings import Settings
from referral_plugin.web.dashboard.access import COOKIE_PATH, SESSION_COOKIE
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.inbox_support import own_database

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
MERCHANT = "merchant:owner@example.com"  # the audit actor of a signed-in merchant
# The flags this machine needs: no sandbox as root, and no background calls to Google's hosts
# (the network is closed; without these Chromium retries them at every start).
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=420,900",  # a phone-sized window: the pages are mobile-first
)


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    yield from chromium()


def chromium(*extra_flags: str) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with FLAGS (and `extra_flags`) and a profile of its own, until the
    generator is closed."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: install Debian's chromium and chromium-driver "
            "(`apt-get install chromium chromium-driver`; `bash .ci/run` does it)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="referral-browser-")
    for flag in (*FLAGS, *extra_flags, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@dataclass(frozen=True)
class LiveApp:
    url: str
    app: Flask


def serve(app: Flask) -> Iterator[LiveApp]:
    """`app` as a real HTTP server on loopback until the generator is closed."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield LiveApp(url=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        app_services(app).engine.dispose()


def live_app(
    tmp_path: Path, *, clock: Callable[[], datetime] | None = None, **changes: Any
) -> Iterator[LiveApp]:
    """The app on loopback with a database of its own (`inbox_support.own_database`) and the
    browser tests' settings (with `changes`), until the generator is closed."""
    with own_database(tmp_path) as url:
        settings = Settings(
            database_url=url, secret_key="browser-secret-key", encryption_key=TEST_ENCRYPTION_KEY,
            public_base_url="http://127.0.0.1", environment="test",
            instance_path=tmp_path / "instance",
        )  # fmt: skip
        yield from serve(create_app(replace(settings, **changes), clock=clock))


def with_session_cookie(
    browser: webdriver.Chrome,
    live: LiveApp,
    shop_id: int,
    actor: str = "merchant:owner@example.com",
) -> None:
    """The browser holds a dashboard session cookie for the shop, as after using the emailed
    sign-in link (the link itself: test_dashboard.py)."""
    with app_services(live.app).sessions.begin() as session:
        started = start_session(
            session, shop_id, actor=actor, now=datetime.now(tz=UTC), lifetime=timedelta(hours=1)
        )
    browser.delete_all_cookies()
    browser.get(live.url + "/healthz")
    browser.add_cookie({"name": SESSION_COOKIE, "value": started.token, "path": COOKIE_PATH})


def full_page(driver: webdriver.Chrome, path: Path, width: int | None = None) -> Path:
    """The whole page, `width` CSS pixels wide (the content's width if None), as a PNG at
    `path`. Chromium sometimes answers "Unable to capture screenshot" (an inspector error) when
    asked right after a resize or a navigation, before it has drawn a frame, more often on a
    busy machine: the capture, which changes nothing, is asked again a little later."""
    for pause in (0.5, 1.0, None):
        try:
            path.write_bytes(_capture(driver, width))
            return path
        except WebDriverException as error:
            if pause is None or "inspector error" not in str(error):
                raise
            time.sleep(pause)
    return path


def _capture(driver: webdriver.Chrome, width: int | None) -> bytes:
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": width or size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    return base64.b64decode(shot["data"])


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """Save what the browser shows now, full page, as `screenshots/<name>.png`."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(420, max(600, int(height) + 40))
    assert driver.save_screenshot(str(path)), f"no screenshot for {name}"
    driver.set_window_size(420, 900)
    return path
