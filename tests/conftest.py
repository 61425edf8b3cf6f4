"""Shared fixtures: settings, a migrated database (SQLite, or PostgreSQL when TEST_DATABASE_URL
is set), and a session rolled back after each test."""

from __future__ import annotations

import base64
import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from referral_plugin import migrations
from referral_plugin.db import make_engine
from referral_plugin.settings import Settings

TEST_ENCRYPTION_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
LOCAL_HOSTS = frozenset({"localhost", "localhost.localdomain"})


class OutsideNetworkRefused(RuntimeError):
    """A test tried to reach a host other than this machine (a real store, say)."""


def _is_local(host: object) -> bool:
    if not isinstance(host, str | bytes):
        return True  # a Unix socket path or similar
    name = host.decode() if isinstance(host, bytes) else host
    if name in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _only_local_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to local servers only (PostgreSQL, SMTP, the fake stores on 127.0.0.1):
    resolving any other host fails at once instead of hanging on this offline machine."""
    real_getaddrinfo = socket.getaddrinfo

    def local_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not _is_local(host):
            raise OutsideNetworkRefused(f"tests may not reach {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_getaddrinfo)


def _postgres_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The database the suite runs on: TEST_DATABASE_URL (PostgreSQL) or a fresh SQLite file."""
    url = _postgres_url()
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated, empty database for the whole session."""
    eng = make_engine(database_url)
    if eng.dialect.name == "postgresql":
        with eng.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    migrations.upgrade(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test.

    Services commit nothing (the caller owns the transaction); savepoints inside still work.
    """
    connection = engine.connect()
    outer = connection.begin()
    db_session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield db_session
    finally:
        db_session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test-secret-key",
        encryption_key=TEST_ENCRYPTION_KEY,
        public_base_url="https://referrals.example.test",
        environment="test",
        instance_path=tmp_path / "instance",
        shopify_api_key="test-api-key",
        shopify_api_secret="test-api-secret-long-enough-for-hs256",
        shopify_previous_api_secret="old-api-secret",
    )
