"""A WooCommerce store end to end: connect, webhooks, the advocate's code put into the store by
the worker's friend-code job, an order with that code, the reward coupon appearing in the store
bound to the advocate's email, a refund removing it.

By default the store is FakeWooCommerce and our app runs as a real HTTP server: the merchant's
browser goes through our connect page and the store's `/wc-auth/v1/authorize`, the store posts
the keys to our callback, and every order change reaches us as a signed webhook delivery.

With WOO_E2E_URL, WOO_E2E_KEY and WOO_E2E_SECRET set (read_write keys of a TEST store, see
README), the same story runs against that store: connected with the operator command (a real
store cannot reach this machine's callback), orders created through its REST API, and nothing
posted by the test itself — the reconciliation job reads the orders back. The test deletes what
it created (webhooks, product, order, coupons).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from connectors.woocommerce.rest_client import WooCommerceRestClient
from connectors.woocommerce.store_client import WooCommerceStoreClient
from connectors.woocommerce.webhooks_api import list_webhooks
from referral_plugin.app import AppServices, app_services, create_app
from referral_plugin.cli import main
from referral_plugin.domain.events import Platform
from referral_plugin.domain.lifecycle import RewardStatus
from referral_plugin.jobs import JOBS, WorkerRuntime, run_job
from referral_plugin.models import Reward, Shop
from referral_plugin.services import shops
from referral_plugin.settings import Settings
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.inbox_support import own_database
from tests.woocommerce_fake import FakeWooCommerce

PUBLIC = "https://referrals.example.test"
E2E = ("WOO_E2E_URL", "WOO_E2E_KEY", "WOO_E2E_SECRET")
REAL_STORE = all(os.environ.get(name) for name in E2E)
HOLD_DAYS = 14
ADVOCATE, FRIEND = "anna.e2e@example.com", "felix.e2e@example.com"


@pytest.fixture(autouse=True)
def _only_local_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """conftest's guard, widened to the real store's host when one is configured."""
    allowed = {urlsplit(os.environ["WOO_E2E_URL"]).hostname} if REAL_STORE else set()
    real_getaddrinfo = socket.getaddrinfo

    def guarded(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and name not in allowed and not _local(name):
            raise RuntimeError(f"tests may not reach {name!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


def _local(name: str) -> bool:
    return name in {"localhost", "127.0.0.1", "::1"}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    """The test's own database: the jobs visit every shop, so no other test's shops."""
    with own_database(tmp_path) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database: str) -> Settings:
    return Settings(
        database_url=database,
        secret_key="e2e-secret-key",
        encryption_key=TEST_ENCRYPTION_KEY,
        public_base_url=PUBLIC,
        environment="test",
        instance_path=tmp_path / "instance",
    )


@dataclass
class App:
    url: str
    services: AppServices
    clock: list[datetime] = field(default_factory=lambda: [datetime.now(tz=UTC)])

    def local(self, url: str) -> str:
        return self.url + url[len(PUBLIC) :] if url.startswith(PUBLIC) else url

    def run(self, name: str, at: datetime | None = None) -> int:
        """Run one worker job once, as the worker does (run_job), at `at` (default now)."""
        job = next(job for job in JOBS if job.name == name)
        moment = at or datetime.now(tz=UTC)
        handled = run_job(job, self.services, clock=lambda: moment, runtime=WorkerRuntime())
        assert handled is not None, f"job {name} failed (see the log)"
        return handled


@pytest.fixture
def app(settings: Settings) -> Iterator[App]:
    """Our app as a real HTTP server (threaded, like gunicorn's workers)."""
    flask_app = create_app(settings)
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield App(url=f"http://127.0.0.1:{server.server_port}", services=app_services(flask_app))
    finally:
        server.shutdown()
        app_services(flask_app).engine.dispose()


# --- the two kinds of store ---------------------------------------------------------------------


class FakeStore:
    """FakeWooCommerce, connected through our pages and its key flow; it delivers webhooks."""

    real = False

    def __init__(self, fake: FakeWooCommerce, app: App) -> None:
        self.fake, self.app = fake, app
        self.url = fake.url
        self.rest = WooCommerceRestClient(fake.url, fake.consumer_key, fake.consumer_secret)

    def connect(self) -> str:
        browser = requests.Session()
        page = browser.get(self.app.url + "/woocommerce/connect", timeout=10)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        form = {"csrf_token": token, "store_url": self.fake.url}
        started = browser.post(
            self.app.url + "/woocommerce/connect", data=form, allow_redirects=False, timeout=10
        )
        assert started.status_code == 303
        assert started.headers["Location"].startswith(self.fake.url + "/wc-auth/v1/authorize?")
        at_store = browser.get(started.headers["Location"], allow_redirects=False, timeout=30)
        assert at_store.status_code == 302, at_store.text  # the callback answered 200
        back = at_store.headers["Location"]
        assert back.startswith(PUBLIC + "/woocommerce/return?") and "success=1" in back
        landing = browser.get(self.app.local(back), timeout=10)
        assert landing.status_code == 200
        return landing.text

    def sync(self) -> None:
        """Webhooks already carried every change; check they all arrived."""
        assert self.fake.outbound.deliveries, "the store sent no webhook"
        assert {d.status for d in self.fake.outbound.deliveries} == {200}

    def line_item(self) -> dict[str, Any]:
        return {"name": "Tote bag", "quantity": 1, "total": "80.00"}

    def cleanup(self) -> None:
        pass


class RealStore:
    """A real WooCommerce store: the operator connects it; reconciliation reads its orders."""

    real = True

    def __init__(self, app: App, settings: Settings) -> None:
        self.app, self.settings = app, settings
        self.url = os.environ["WOO_E2E_URL"].rstrip("/")
        key, secret = os.environ["WOO_E2E_KEY"], os.environ["WOO_E2E_SECRET"]
        self.key, self.secret = key, secret
        self.rest = WooCommerceRestClient(self.url, key, secret)
        self.created: list[tuple[str, int]] = []  # endpoints to delete at the end

    def connect(self) -> str:
        environ = {
            "APP_ENV": "test",
            "DATABASE_URL": self.settings.database_url,
            "INSTANCE_PATH": str(self.settings.instance_path),
            "SECRET_KEY": self.settings.secret_key,
            "ENCRYPTION_KEY": self.settings.encryption_key,
            "PUBLIC_BASE_URL": PUBLIC,
        }
        command = ["shop", "add-woocommerce", "--url", self.url, "--key", self.key]
        assert main([*command, "--secret", self.secret], environ=environ) == 0
        return "is connected"

    def sync(self) -> None:
        self.app.run("reconcile_orders")

    def line_item(self) -> dict[str, Any]:
        product = self.rest.post(
            "products",
            {"name": f"referral e2e {uuid.uuid4().hex[:6]}", "regular_price": "80.00"},
        ).payload
        self.created.append(("products", int(product["id"])))
        return {"product_id": int(product["id"]), "quantity": 1}

    def cleanup(self) -> None:
        for endpoint, item_id in reversed(self.created):
            self.rest.delete(f"{endpoint}/{item_id}", {"force": "true"})
        for hook in list_webhooks(self.rest):
            if hook.get("delivery_url") == PUBLIC + "/webhooks/woocommerce":
                self.rest.delete(f"webhooks/{int(hook['id'])}", {"force": "true"})


@pytest.fixture
def store(app: App, settings: Settings) -> Iterator[FakeStore | RealStore]:
    if REAL_STORE:
        real = RealStore(app, settings)
        try:
            yield real
        finally:
            real.cleanup()
        return
    with FakeWooCommerce(outbound={PUBLIC: app.url}) as fake:
        yield FakeStore(fake, app)


def test_which_store_this_run_uses() -> None:
    """Says in the report whether a real store was used."""
    if not REAL_STORE:
        pytest.skip(
            "WooCommerce e2e ran against the local fake store only; set WOO_E2E_URL, "
            "WOO_E2E_KEY and WOO_E2E_SECRET (read_write keys of a test store) to also run it "
            "against a real one (README, WooCommerce)"
        )


# --- the story ------------------------------------------------------------------------------------


def test_connect_order_reward_refund_round_trip(
    app: App, store: FakeStore | RealStore, settings: Settings
) -> None:
    # 1. connect: keys verified and saved, webhooks created pointing at us
    assert "is connected" in store.connect()
    shop = _shop(app.services, store.url)
    delivery_url = PUBLIC + "/webhooks/woocommerce"
    ours = [h for h in list_webhooks(store.rest) if h.get("delivery_url") == delivery_url]
    assert sorted(h["topic"] for h in ours) == ["order.created", "order.deleted", "order.updated"]
    assert {h["status"] for h in ours} == {"active"}
    if isinstance(store, FakeStore):
        assert [status for _, status in store.fake.outbound.pings] == [200, 200, 200]

    # 2. a program and an advocate, through the admin API; the advocate's code in the store
    api = _admin_api(app, shop.id)
    program = api("POST", "/api/v1/programs", _program())
    advocate = api("POST", "/api/v1/advocates", {"program_id": program["id"], "email": ADVOCATE})
    code = advocate["code"]
    assert WooCommerceStoreClient(store.rest).find_coupon(code) is None
    assert app.run("sync_friend_codes") == 1  # the worker's job puts the code into the store
    friend_coupon = WooCommerceStoreClient(store.rest).find_coupon(code)
    assert friend_coupon is not None
    assert (friend_coupon["discount_type"], friend_coupon["amount"]) == ("percent", "10.00")
    assert friend_coupon["usage_limit_per_user"] == 1
    if isinstance(store, RealStore):
        store.created.append(("coupons", int(friend_coupon["id"])))

    # 3. a friend orders with the code (placed), then pays
    order = store.rest.post(
        "orders",
        {
            "status": "pending",
            "billing": {"email": FRIEND, "first_name": "Felix", "country": "US"},
            "line_items": [store.line_item()],
            "coupon_lines": [{"code": code}],
        },
    ).payload
    if isinstance(store, RealStore):
        store.created.insert(0, ("orders", int(order["id"])))
    store.rest.put(f"orders/{order['id']}", {"status": "processing", "set_paid": True})
    store.sync()
    app.run("drain_inbox")
    (reward,) = _rewards(app.services, shop.id)
    assert reward.status is RewardStatus.HELD
    assert reward.value == Decimal("10.00")

    # 4. the hold ends: approved, then issued as a coupon bound to the advocate's email
    after_hold = reward.hold_until + timedelta(minutes=1)
    assert app.run("mature_held_rewards", at=after_hold) == 1
    assert app.run("issue_rewards", at=after_hold) == 1
    (reward,) = _rewards(app.services, shop.id)
    assert reward.status is RewardStatus.ISSUED
    issued = WooCommerceStoreClient(store.rest).find_coupon(reward.store_code)
    assert issued is not None
    assert issued["code"] == reward.store_code.lower()
    assert issued["email_restrictions"] == [ADVOCATE]
    assert (issued["discount_type"], issued["amount"]) == ("fixed_cart", "10.00")

    # 5. the order is refunded: the reward is reversed and its coupon removed from the store
    store.rest.post(
        f"orders/{order['id']}/refunds", {"amount": order["total"], "api_refund": False}
    )
    store.sync()
    app.run("drain_inbox", at=after_hold)
    assert app.run("revoke_rewards", at=after_hold) == 1
    (reward,) = _rewards(app.services, shop.id)
    assert reward.status is RewardStatus.REVERSED
    assert WooCommerceStoreClient(store.rest).find_coupon(reward.store_code) is None


# --- helpers ------------------------------------------------------------------------------------


def _program() -> dict[str, Any]:
    return {
        "name": "Give 10%, get $10",
        "kind": "two_sided",
        "friend_reward": {"kind": "percent_discount", "percent": "10"},
        "advocate_reward": {"kind": "fixed_discount", "amount": "10.00"},
        "hold_days": HOLD_DAYS,
    }


def _admin_api(app: App, shop_id: int) -> Callable[[str, str, dict[str, Any]], dict[str, Any]]:
    with app.services.sessions.begin() as session:
        token = shops.issue_api_token(session, shop_id)

    def call(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = requests.request(
            method,
            app.url + path,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    return call


def _shop(services: AppServices, url: str) -> Shop:
    with services.sessions.begin() as session:
        found = session.scalars(select(Shop).where(Shop.platform == Platform.WOOCOMMERCE)).all()
        assert len(found) == 1, f"expected the one connected store ({url})"
        return found[0]


def _rewards(services: AppServices, shop_id: int) -> list[Reward]:
    with services.sessions.begin() as session:
        rows = session.scalars(select(Reward).where(Reward.shop_id == shop_id)).all()
        return [row for row in rows if row.beneficiary.value == "advocate"]
