"""shopify.app.toml agrees with the code: the scopes are the settings' default, every topic the
connector translates is subscribed (compliance topics as compliance_topics), and every URL
points at a route the app serves."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from connectors.shopify.connector import TRANSLATORS
from referral_plugin.settings import (
    DEFAULT_SHOPIFY_API_VERSION,
    DEFAULT_SHOPIFY_SCOPES,
    Settings,
    SettingsError,
)

TOML = Path(__file__).resolve().parents[2] / "shopify.app.toml"
COMPLIANCE = {"customers/data_request", "customers/redact", "shop/redact"}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return tomllib.loads(TOML.read_text(encoding="utf-8"))


def routes(app: Flask) -> set[tuple[str, str]]:
    return {(rule.rule, method) for rule in app.url_map.iter_rules() for method in rule.methods}


def test_the_scopes_are_the_settings_default(config: dict[str, Any]) -> None:
    assert config["access_scopes"]["scopes"] == DEFAULT_SHOPIFY_SCOPES
    assert config["access_scopes"]["use_legacy_install_flow"] is False


def test_every_translated_topic_is_subscribed(config: dict[str, Any]) -> None:
    subscriptions = config["webhooks"]["subscriptions"]
    topics = {t for s in subscriptions for t in s.get("topics", [])}
    compliance = {t for s in subscriptions for t in s.get("compliance_topics", [])}
    assert compliance == COMPLIANCE
    assert topics | compliance == set(TRANSLATORS)
    assert not topics & COMPLIANCE  # compliance topics cannot be ordinary subscriptions
    assert config["webhooks"]["api_version"] == DEFAULT_SHOPIFY_API_VERSION


def test_every_url_is_one_of_our_routes(config: dict[str, Any], app: Flask) -> None:
    served = routes(app)
    host = urlsplit(config["application_url"]).netloc
    install = urlsplit(config["application_url"])
    assert (install.scheme, install.path) == ("https", "/shopify/install")
    assert ("/shopify/install", "GET") in served
    for url in config["auth"]["redirect_urls"]:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("https", host)
        assert (parts.path, "GET") in served
    for subscription in config["webhooks"]["subscriptions"]:
        parts = urlsplit(subscription["uri"])
        assert (parts.scheme, parts.netloc, parts.path) == ("https", host, "/webhooks/shopify")
        assert ("/webhooks/shopify", "POST") in served


def environ(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"APP_ENV": "test", "INSTANCE_PATH": str(tmp_path), **values}


def test_scopes_and_origin_come_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        environ(tmp_path, SHOPIFY_SCOPES=" read_orders , Write_Discounts,", SHOPIFY_SHOP_ORIGIN="")
    )
    assert settings.shopify_scopes == "read_orders,write_discounts"
    assert settings.shopify_shop_origin == "https://{shop}"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({"SHOPIFY_SCOPES": "read orders"}, "SHOPIFY_SCOPES", id="bad scope"),
        pytest.param({"SHOPIFY_SHOP_ORIGIN": "ftp://x"}, "SHOPIFY_SHOP_ORIGIN", id="bad origin"),
        pytest.param(
            {"SHOPIFY_SHOP_ORIGIN": "https://{shop}/admin"}, "SHOPIFY_SHOP_ORIGIN", id="a path"
        ),
    ],
)
def test_bad_shopify_settings_name_the_variable(
    tmp_path: Path, values: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ(tmp_path, **values))


def test_production_refuses_another_shop_origin() -> None:
    settings = Settings(
        database_url="postgresql+psycopg://u:p@db/x",
        secret_key="s",
        encryption_key="a" * 43 + "=",
        public_base_url="https://referrals.example.com",
        environment="production",
        shopify_shop_origin="http://127.0.0.1:8080",
    )
    with pytest.raises(SettingsError, match="production"):
        settings.validate()
