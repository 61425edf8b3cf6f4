"""Real worker processes against a database of the test's own: killed mid-batch, stopped with
SIGTERM, two at once, and the database lost for a moment. Nothing is lost, nothing is done twice.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from referral_plugin.app import AppServices, build_services
from referral_plugin.db import make_engine
from referral_plugin.inbox_worker import CHUNK_SIZE
from referral_plugin.models import Conversion, DeliveryStatus, Reward, WebhookDelivery
from referral_plugin.settings import Settings
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.inbox_support import (
    APP_SECRET,
    application_name,
    order_body,
    own_database,
    referral_shop,
    store,
    terminate_backends,
    utc,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = utc(2026, 11, 20, 12)
DONE_LINE = re.compile(r"delivery done delivery_id=(\d+)")
ON_POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))


class Workers:
    """Worker processes started by a test, each logging to its own file; all killed at the end."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.tmp_path, self.database_url = tmp_path, database_url
        self.processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, **env: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.tmp_path / f"worker{len(self.processes)}.log"
        environ = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "APP_ENV": "test",
            "DATABASE_URL": env.pop("DATABASE_URL", self.database_url),
            "INSTANCE_PATH": str(self.tmp_path / "instance"),
            "SECRET_KEY": "e2e-secret",
            "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
            "SHOPIFY_API_SECRET": APP_SECRET,
            "INBOX_LEASE_SECONDS": "2",
            "INBOX_BACKOFF_BASE_SECONDS": "1",
            "INBOX_BACKOFF_MAX_SECONDS": "1",
            "DRAIN_INTERVAL_SECONDS": "1",
            **env,
        }
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "referral_plugin.cli", "worker"],
                cwd=ROOT,
                env=environ,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.processes.append((process, log))
        return process, log

    def stop_all(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    with own_database(tmp_path) as url:
        yield url


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[AppServices]:
    settings = Settings(
        database_url=database_url,
        secret_key="e2e-secret",
        encryption_key=TEST_ENCRYPTION_KEY,
        environment="test",
        instance_path=tmp_path / "instance",
    )
    built = build_services(settings)
    yield built
    built.engine.dispose()


@pytest.fixture
def workers(tmp_path: Path, database_url: str) -> Iterator[Workers]:
    started = Workers(tmp_path, database_url)
    try:
        yield started
    finally:
        started.stop_all()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def seed(services: AppServices, orders: int, first_order: int = 1) -> list[int]:
    """Signed order deliveries, one in four carrying the advocate's code; returns their ids."""
    with services.sessions.begin() as session:
        shop = referral_shop(session, services.box, NOW)
        return [
            store(
                session,
                shop.shop_id,
                shop.domain,
                order_body(order_id, code=shop.code if order_id % 4 == 0 else None),
                now=NOW,
            )
            for order_id in range(first_order, first_order + orders)
        ]


def counts(services: AppServices) -> Counter[DeliveryStatus]:
    with services.sessions.begin() as session:
        rows = session.execute(
            select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
        )
        return Counter({DeliveryStatus(status): n for status, n in rows})


def done_lines(*logs: Path) -> Counter[int]:
    found: Counter[int] = Counter()
    for log in logs:
        found.update(int(match) for match in DONE_LINE.findall(log.read_text()))
    return found


def assert_each_order_once(services: AppServices, orders: int) -> None:
    """All done; one conversion per order; one advocate reward per referred order, no more."""
    with services.sessions.begin() as session:
        statuses = session.scalars(select(WebhookDelivery.status)).all()
        assert set(statuses) == {DeliveryStatus.DONE} and len(statuses) == orders
        per_order = session.execute(
            select(Conversion.order_id, func.count()).group_by(Conversion.order_id)
        ).all()
        assert len(per_order) == orders and {n for _, n in per_order} == {1}
        rewards = session.execute(select(Reward.conversion_id, Reward.rule_key)).all()
        assert len(rewards) == len(set(rewards)) == orders // 4


def stop(process: subprocess.Popen[bytes], log: Path) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"worker ignored SIGTERM:\n{log.read_text()[-2000:]}") from None


def test_a_worker_killed_mid_batch_loses_nothing_and_the_next_finishes_once(
    services: AppServices, workers: Workers
) -> None:
    ids = seed(services, 400)  # enough that the first worker cannot finish before the kill
    first, first_log = workers.start(INBOX_BATCH_SIZE="200")
    wait_until(lambda: done_lines(first_log), 30, "the first worker's first delivery")
    first.kill()
    first.wait(timeout=10)
    assert counts(services)[DeliveryStatus.PROCESSING] > 0  # killed holding a claimed batch

    second, second_log = workers.start(INBOX_BATCH_SIZE="200")
    wait_until(lambda: counts(services)[DeliveryStatus.DONE] == len(ids), 30, "all done")
    assert stop(second, second_log) == 0

    assert_each_order_once(services, len(ids))
    processed = done_lines(first_log, second_log)
    assert max(processed.values()) == 1 and set(processed) <= set(ids)
    # A kill between a chunk's commit and its log lines hides at most that chunk's lines.
    assert len(processed) >= len(ids) - max(CHUNK_SIZE.values())


def test_sigterm_finishes_the_current_delivery_and_releases_the_batch(
    services: AppServices, workers: Workers
) -> None:
    # Three chunks on PostgreSQL: the stop comes while the second is in progress (the first
    # one's log lines are what the test waits for), so the third is released.
    ids = seed(services, 300)
    worker, log = workers.start(INBOX_BATCH_SIZE="300")
    wait_until(lambda: done_lines(log), 30, "the worker's first delivery")

    assert stop(worker, log) == 0

    states = counts(services)
    assert states[DeliveryStatus.PROCESSING] == 0
    assert states[DeliveryStatus.DONE] + states[DeliveryStatus.PENDING] == len(ids)
    assert states[DeliveryStatus.PENDING] > 0 and "deliveries released" in log.read_text()
    with services.sessions.begin() as session:
        attempts = session.scalars(
            select(WebhookDelivery.attempts).where(WebhookDelivery.status == DeliveryStatus.PENDING)
        ).all()
        assert set(attempts) == {0}  # the claim was given back


@pytest.mark.postgres
@pytest.mark.skipif(
    not ON_POSTGRES,
    reason="SQLite has a single writer: two workers take turns, they never process at once",
)
def test_two_workers_at_once_process_each_delivery_once(
    services: AppServices, workers: Workers
) -> None:
    started = [workers.start(INBOX_BATCH_SIZE="20") for _ in range(2)]
    for _, log in started:
        wait_until(lambda log=log: "job done" in log.read_text(), 30, "both workers running")
    ids = seed(services, 300)

    wait_until(lambda: counts(services)[DeliveryStatus.DONE] == len(ids), 60, "all done")
    assert [stop(process, log) for process, log in started] == [0, 0]

    assert_each_order_once(services, len(ids))
    per_worker = [done_lines(log) for _, log in started]
    assert all(per_worker), "both workers took part"
    assert done_lines(*(log for _, log in started)) == Counter(dict.fromkeys(ids, 1))
    with services.sessions.begin() as session:
        assert set(session.scalars(select(WebhookDelivery.attempts))) == {1}  # claimed once


def test_the_database_lost_for_a_moment_loses_nothing(
    services: AppServices, workers: Workers, database_url: str
) -> None:
    ids = seed(services, 120)
    worker, log = workers.start(INBOX_BATCH_SIZE="50")
    wait_until(lambda: done_lines(log), 30, "the worker's first delivery")

    if ON_POSTGRES:
        kill_connections_for(database_url, seconds=1.5)
    else:
        hold_write_lock(database_url, seconds=2)

    wait_until(lambda: counts(services)[DeliveryStatus.DONE] == len(ids), 45, "all done")
    assert stop(worker, log) == 0
    assert_each_order_once(services, len(ids))


def hold_write_lock(database_url: str, *, seconds: float) -> None:
    """SQLite: take the database's exclusive lock from another connection for a while. SQLite
    does not queue lock waiters fairly, and a draining worker takes the write lock again right
    after each commit: wait for it generously (the default 5 s was sometimes not enough)."""
    connection = sqlite3.connect(
        database_url.removeprefix("sqlite:///"), isolation_level=None, timeout=60
    )
    try:
        connection.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def kill_connections_for(database_url: str, *, seconds: float) -> None:
    """PostgreSQL: terminate the worker's connections again and again for a while."""
    name = application_name(database_url)
    assert name
    admin = make_engine(os.environ["TEST_DATABASE_URL"])
    killed = 0
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with admin.begin() as connection:
                killed += terminate_backends(connection, name)
            time.sleep(0.05)
    finally:
        admin.dispose()
    assert killed > 0
