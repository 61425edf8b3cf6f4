"""Helpers for the inbox worker's tests: signed Shopify deliveries, a referral setup, and a
database of the test's own (a fresh SQLite file, or a fresh schema on TEST_DATABASE_URL)."""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import text
from sqlalchemy.orm import Session

from connectors.signatures import sign_body
from referral_plugin import migrations
from referral_plugin.crypto import SecretBox
from referral_plugin.db import make_engine
from referral_plugin.domain.events import Platform
from referral_plugin.services.advocates import enroll_advocate
from referral_plugin.services.inbox import store_delivery
from referral_plugin.services.programs import create_program
from referral_plugin.services.shops import add_shop
from tests.conftest import TEST_ENCRYPTION_KEY

APP_SECRET = "test-api-secret-long-enough-for-hs256"  # the `settings` fixture's shopify_api_secret
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "shopify"
ORDER_SAMPLE = json.loads((FIXTURES / "orders_create__docs_sample.json").read_text())
ONE_SIDED = {
    "name": "Give 10",
    "kind": "one_sided",
    "advocate_reward": {"kind": "fixed_discount", "amount": "10.00"},
    "hold_days": 30,
}


def order_body(
    order_id: int,
    *,
    code: str | None = None,
    status: str = "paid",
    cancelled: bool = False,
    updated_at: str = "2026-11-20T12:00:00Z",
) -> bytes:
    """A Shopify order payload (the docs sample, made a distinct, live order)."""
    order: dict[str, Any] = copy.deepcopy(ORDER_SAMPLE)
    order.update(
        id=order_id,
        name=f"#{order_id}",
        financial_status=status,
        test=False,
        cancelled_at="2026-11-20T12:30:00Z" if cancelled else None,
        cancel_reason="customer" if cancelled else None,
        created_at="2026-11-20T11:00:00Z",
        updated_at=updated_at,
        email=f"friend-{order_id}@example.com",
        contact_email=f"friend-{order_id}@example.com",
        browser_ip=f"198.51.{order_id % 250}.{order_id // 250 % 250 + 1}",
        discount_codes=[{"code": code, "amount": "10.00", "type": "fixed_amount"}] if code else [],
    )
    order["customer"] = {**order["customer"], "id": order_id, "email": order["email"]}
    return json.dumps(order).encode()


def refund_body(order_id: int, refund_id: int, amount: str) -> bytes:
    transaction = {"kind": "refund", "status": "success", "amount": amount}
    refund = {
        "id": refund_id,
        "order_id": order_id,
        "created_at": "2026-11-21T10:00:00Z",
        "transactions": [transaction],
    }
    return json.dumps(refund).encode()


def shopify_headers(domain: str, body: bytes, topic: str, event_id: str) -> dict[str, str]:
    """The headers the edge keeps, signed for real with the app secret."""
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": domain,
        "X-Shopify-Hmac-Sha256": sign_body(body, APP_SECRET),
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": "2026-11-20T12:00:00.000000Z",
        "X-Shopify-API-Version": "2026-01",
    }


def store(
    session: Session,
    shop_id: int,
    domain: str,
    body: bytes,
    *,
    topic: str = "orders/paid",
    event_id: str | None = None,
    now: datetime,
) -> int:
    """Store a signed delivery in the inbox as the edge would; returns its id."""
    event_id = event_id or uuid.uuid4().hex
    delivery_id, _ = store_delivery(
        session,
        platform=Platform.SHOPIFY,
        shop_id=shop_id,
        topic=topic,
        dedup_key=f"{topic}:{event_id}",
        webhook_id=None,
        headers=shopify_headers(domain, body, topic, event_id),
        body=body,
        now=now,
    )
    return delivery_id


@dataclass(frozen=True, slots=True)
class ReferralShop:
    shop_id: int
    domain: str
    code: str  # the advocate's referral code


def referral_shop(session: Session, box: SecretBox, now: datetime) -> ReferralShop:
    """A Shopify shop with a one-sided program and one advocate."""
    domain = f"worker-{uuid.uuid4().hex[:10]}.myshopify.com"
    shop = add_shop(
        session,
        platform=Platform.SHOPIFY,
        domain=domain,
        currency="USD",
        credentials={"access_token": "shpat_test"},
        box=box,
        now=now,
    )
    program = create_program(session, shop.id, ONE_SIDED, now=now)
    advocate = enroll_advocate(
        session, shop.id, program.id, email="anna@example.com", first_name="Anna", now=now
    )
    return ReferralShop(shop_id=shop.id, domain=domain, code=advocate.code)


@contextmanager
def own_database(tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database only this test uses: a schema of TEST_DATABASE_URL's database
    (dropped afterwards), else a SQLite file under `tmp_path`. Yields its URL."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        url = f"sqlite:///{tmp_path / 'own.db'}"
        migrations.upgrade(url)
        yield url
        return
    schema = f"worker_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    options = quote(f"-csearch_path={schema}")
    url = f"{base}{separator}options={options}&application_name={schema}"
    try:
        migrations.upgrade(url)
        yield url
    finally:
        with admin.begin() as connection:
            terminate_backends(connection, schema)
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def terminate_backends(connection: Any, application_name: str) -> int:
    """PostgreSQL: end every connection opened under `application_name`; returns how many."""
    query = text(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = :name AND pid <> pg_backend_pid()"
    )
    return connection.execute(query, {"name": application_name}).scalar_one()


def application_name(url: str) -> str | None:
    """The application_name own_database put in a PostgreSQL URL (None on SQLite)."""
    marker = "application_name="
    return url.split(marker, 1)[1].split("&", 1)[0] if marker in url else None


def app_environ(url: str, tmp_path: Path, secret_key: str, public: str) -> dict[str, str]:
    """The environment `create_app()`/the CLI read, for a test's own database."""
    return {
        "APP_ENV": "test",
        "DATABASE_URL": url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": secret_key,
        "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
        "PUBLIC_BASE_URL": public,
    }


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]
