"""Configuration: one frozen dataclass, built once from the environment by the composition root.

With no environment at all the app runs in development mode on SQLite under `instance/`, with
development secrets generated once and kept in `instance/dev-secrets.json`. In production
(`APP_ENV=production`) every secret must be given; a missing one stops startup with an error
naming the variable.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_SHOPIFY_API_VERSION = "2026-01"


class SettingsError(RuntimeError):
    """The environment does not describe a runnable app; the message names the variable."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    database_url: str
    secret_key: str = field(repr=False)
    encryption_key: str = field(repr=False)  # Fernet key (urlsafe base64 of 32 bytes)
    public_base_url: str = "http://localhost:8000"
    environment: str = "development"
    instance_path: Path = Path("instance")
    shopify_api_key: str | None = None
    shopify_api_secret: str | None = field(default=None, repr=False)
    shopify_previous_api_secret: str | None = field(default=None, repr=False)
    shopify_api_version: str = DEFAULT_SHOPIFY_API_VERSION
    smtp_url: str | None = field(default=None, repr=False)
    webhook_max_body_bytes: int = 2 * 1024 * 1024
    reward_hold_days_default: int = 30
    mature_interval_seconds: int = 60
    inbox_batch_size: int = 100  # deliveries claimed per transaction by the worker
    inbox_lease_seconds: int = 60  # a claimed delivery returns to the queue after this
    inbox_max_attempts: int = 8  # failed attempts before a delivery is dead-lettered
    inbox_backoff_base_seconds: int = 30  # first retry delay; doubles per attempt
    inbox_backoff_max_seconds: int = 3600
    drain_interval_seconds: int = 2
    issue_interval_seconds: int = 60  # issue approved / revoke reversed rewards in the store
    reconcile_interval_seconds: int = 900  # read back recently updated orders per shop
    outbox_interval_seconds: int = 30  # send queued emails

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `environ` (default: os.environ); raises SettingsError."""
        env = dict(os.environ if environ is None else environ)
        environment = env.get("APP_ENV", "development").strip() or "development"
        if environment not in {"development", "test", "production"}:
            raise SettingsError(
                f"APP_ENV must be development, test or production, got {environment!r}"
            )
        instance = Path(env.get("INSTANCE_PATH", "instance")).resolve()
        production = environment == "production"
        dev_secrets = {} if production else _development_secrets(instance)

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if value:
                return value
            if production:
                raise SettingsError(
                    f"{name} is not set: production needs it (see README, Configuration)"
                )
            return dev_secrets[name]

        database_url = env.get("DATABASE_URL", "").strip()
        if not database_url:
            if production:
                raise SettingsError("DATABASE_URL is not set: production needs a PostgreSQL URL")
            database_url = f"sqlite:///{instance / 'referral_plugin.db'}"
        database_url = normalize_database_url(database_url)
        settings = cls(
            database_url=database_url,
            secret_key=required("SECRET_KEY"),
            encryption_key=required("ENCRYPTION_KEY"),
            public_base_url=env.get("PUBLIC_BASE_URL", "http://localhost:8000").strip().rstrip("/"),
            environment=environment,
            instance_path=instance,
            shopify_api_key=env.get("SHOPIFY_API_KEY") or None,
            shopify_api_secret=env.get("SHOPIFY_API_SECRET") or None,
            shopify_previous_api_secret=env.get("SHOPIFY_PREVIOUS_API_SECRET") or None,
            shopify_api_version=env.get("SHOPIFY_API_VERSION") or DEFAULT_SHOPIFY_API_VERSION,
            smtp_url=env.get("SMTP_URL") or None,
            webhook_max_body_bytes=_int(env, "WEBHOOK_MAX_BODY_BYTES", 2 * 1024 * 1024),
            mature_interval_seconds=_int(env, "MATURE_INTERVAL_SECONDS", 60),
            inbox_batch_size=_int(env, "INBOX_BATCH_SIZE", 100),
            inbox_lease_seconds=_int(env, "INBOX_LEASE_SECONDS", 60),
            inbox_max_attempts=_int(env, "INBOX_MAX_ATTEMPTS", 8),
            inbox_backoff_base_seconds=_int(env, "INBOX_BACKOFF_BASE_SECONDS", 30),
            inbox_backoff_max_seconds=_int(env, "INBOX_BACKOFF_MAX_SECONDS", 3600),
            drain_interval_seconds=_int(env, "DRAIN_INTERVAL_SECONDS", 2),
            issue_interval_seconds=_int(env, "ISSUE_INTERVAL_SECONDS", 60),
            reconcile_interval_seconds=_int(env, "RECONCILE_INTERVAL_SECONDS", 900),
            outbox_interval_seconds=_int(env, "OUTBOX_INTERVAL_SECONDS", 30),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise SettingsError naming the first variable whose value cannot work."""
        try:
            key = base64.urlsafe_b64decode(self.encryption_key.encode())
        except (ValueError, TypeError) as exc:
            raise SettingsError("ENCRYPTION_KEY must be a Fernet key (urlsafe base64)") from exc
        if len(key) != 32:
            raise SettingsError(
                "ENCRYPTION_KEY must be a Fernet key: urlsafe base64 of 32 bytes; make one with "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`"
            )
        parts = urlsplit(self.public_base_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise SettingsError(
                f"PUBLIC_BASE_URL must be an http(s) URL, got {self.public_base_url!r}"
            )
        if self.is_production and parts.scheme != "https":
            raise SettingsError(
                "PUBLIC_BASE_URL must be https in production (platforms require it)"
            )
        if not self.database_url.startswith(("sqlite", "postgresql")):
            raise SettingsError("DATABASE_URL must be sqlite:///... or postgresql+psycopg://...")
        if len(self.shopify_api_version) != 7 or self.shopify_api_version[4] != "-":
            raise SettingsError(
                f"SHOPIFY_API_VERSION must look like 2026-01, got {self.shopify_api_version!r}"
            )


def normalize_database_url(url: str) -> str:
    """Accept the common `postgres://` / `postgresql://` forms and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from exc
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


def _development_secrets(instance: Path) -> dict[str, str]:
    """Secrets for development, generated once and kept under instance/ (never in production)."""
    path = instance / "dev-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    instance.mkdir(parents=True, exist_ok=True)
    values = {
        "SECRET_KEY": secrets.token_urlsafe(32),
        "ENCRYPTION_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values
