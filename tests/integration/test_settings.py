"""Settings from an environment mapping: development defaults, production refusals, URLs."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from referral_plugin.settings import (
    DEFAULT_SHOPIFY_API_VERSION,
    Settings,
    SettingsError,
    normalize_database_url,
)

VALID_KEY = base64.urlsafe_b64encode(b"e" * 32).decode()


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        "APP_ENV": "production",
        "DATABASE_URL": "postgresql://referral:pw@db.internal:5432/referral",
        "SECRET_KEY": "a-long-random-secret",
        "ENCRYPTION_KEY": VALID_KEY,
        "PUBLIC_BASE_URL": "https://referrals.example.com",
    }
    env.update(overrides)
    return {name: value for name, value in env.items() if value is not None}


def test_empty_environment_gives_a_working_development_setup(tmp_path: Path) -> None:
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})

    assert settings.environment == "development"
    assert not settings.is_production
    assert settings.database_url == f"sqlite:///{tmp_path / 'referral_plugin.db'}"
    assert settings.is_sqlite
    assert settings.instance_path == tmp_path
    assert settings.public_base_url == "http://localhost:8000"
    assert settings.shopify_api_key is None
    assert settings.shopify_api_version == DEFAULT_SHOPIFY_API_VERSION
    assert settings.smtp_url is None
    assert settings.webhook_max_body_bytes == 2 * 1024 * 1024
    assert settings.reward_hold_days_default == 30
    assert settings.mature_interval_seconds == 60


def test_development_secrets_are_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    second = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})

    secrets_file = tmp_path / "dev-secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert (first.secret_key, first.encryption_key) == (second.secret_key, second.encryption_key)
    assert first.secret_key not in repr(first)
    assert first.encryption_key not in repr(first)


def test_environment_values_override_the_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": "sqlite:///elsewhere.db",
            "PUBLIC_BASE_URL": "https://shop-referrals.example.com/",
            "MATURE_INTERVAL_SECONDS": "15",
            "WEBHOOK_MAX_BODY_BYTES": "1024",
            "SHOPIFY_API_KEY": "key",
        }
    )

    assert settings.database_url == "sqlite:///elsewhere.db"
    assert settings.public_base_url == "https://shop-referrals.example.com"
    assert settings.mature_interval_seconds == 15
    assert settings.webhook_max_body_bytes == 1024
    assert settings.shopify_api_key == "key"


def test_a_complete_production_environment_is_accepted(tmp_path: Path) -> None:
    settings = Settings.from_env(production_env(INSTANCE_PATH=str(tmp_path)))

    assert settings.is_production
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert not (tmp_path / "dev-secrets.json").exists()


@pytest.mark.parametrize(
    "missing",
    ["SECRET_KEY", "ENCRYPTION_KEY", "DATABASE_URL"],
)
def test_production_names_the_missing_variable(missing: str, tmp_path: Path) -> None:
    env = production_env(INSTANCE_PATH=str(tmp_path))
    del env[missing]

    with pytest.raises(SettingsError, match=missing):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("label", "key"),
    [
        ("not base64", "not a key!"),
        ("too short", base64.urlsafe_b64encode(b"short").decode()),
        ("too long", base64.urlsafe_b64encode(b"x" * 48).decode()),
    ],
)
def test_a_bad_encryption_key_is_refused(label: str, key: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="ENCRYPTION_KEY"):
        Settings.from_env({"INSTANCE_PATH": str(tmp_path), "ENCRYPTION_KEY": key})


@pytest.mark.parametrize(
    ("label", "overrides", "named"),
    [
        ("http in production", {"PUBLIC_BASE_URL": "http://referrals.example.com"}, "https"),
        ("unknown APP_ENV", {"APP_ENV": "staging"}, "APP_ENV"),
        ("interval not a number", {"MATURE_INTERVAL_SECONDS": "soon"}, "MATURE_INTERVAL"),
        ("interval zero", {"MATURE_INTERVAL_SECONDS": "0"}, "MATURE_INTERVAL"),
        ("mysql", {"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL"),
        ("api version", {"SHOPIFY_API_VERSION": "latest"}, "SHOPIFY_API_VERSION"),
        ("proxy hops not a number", {"TRUSTED_PROXY_HOPS": "yes"}, "TRUSTED_PROXY_HOPS"),
    ],
)
def test_unusable_values_are_named(
    label: str, overrides: dict[str, str], named: str, tmp_path: Path
) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(production_env(INSTANCE_PATH=str(tmp_path), **overrides))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@host:5432/db", "postgresql+psycopg://u:p@host:5432/db"),
        ("postgresql://u:p@host/db", "postgresql+psycopg://u:p@host/db"),
        ("postgresql+psycopg://u:p@host/db", "postgresql+psycopg://u:p@host/db"),
        ("sqlite:///instance/app.db", "sqlite:///instance/app.db"),
    ],
)
def test_database_urls_use_the_psycopg_driver(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


def test_heroku_style_database_url_is_normalized_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "postgres://u:p@db:5432/referral"}
    )

    assert settings.database_url == "postgresql+psycopg://u:p@db:5432/referral"
    assert not settings.is_sqlite


@pytest.mark.parametrize(("given", "hops"), [("", 0), ("0", 0), ("1", 1), ("2", 2)])
def test_trusted_proxy_hops(given: str, hops: int, tmp_path: Path) -> None:
    env = production_env(INSTANCE_PATH=str(tmp_path), TRUSTED_PROXY_HOPS=given)
    assert Settings.from_env(env).trusted_proxy_hops == hops
