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
# What the GraphQL documents of `connectors/shopify` need (discounts, orders, customer tags,
# store credit); `shopify.app.toml` declares the same list (a test keeps them equal).
DEFAULT_SHOPIFY_SCOPES = (
    "read_orders,read_discounts,write_discounts,read_customers,write_customers,"
    "write_store_credit_account_transactions"
)
SHOPIFY_SHOP_ORIGIN = "https://{shop}"  # where a shop's OAuth and Admin API endpoints live


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
    shopify_scopes: str = DEFAULT_SHOPIFY_SCOPES  # comma-separated access scopes
    # `{shop}` becomes the myshopify domain. Only tests and local fakes change it (a plain
    # http://127.0.0.1:PORT serves one fake shop); production refuses anything else.
    shopify_shop_origin: str = SHOPIFY_SHOP_ORIGIN
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
    webhook_check_interval_seconds: int = 3600  # re-activate / recreate store webhooks
    friend_code_sync_interval_seconds: int = 15  # push new advocates' codes into the store
    join_limit_per_ip: int = 20  # shopper join attempts per hour from one IP (keyed hash)
    join_limit_per_email: int = 5  # shopper join attempts per hour for one email
    invite_limit_per_ip: int = 10  # invitation forms sent per hour from one IP
    invite_limit_per_advocate: int = 20  # friend addresses one advocate may invite per day
    shopper_email_interval_seconds: int = 3600  # find expiry reminders and share nudges
    auto_enroll_interval_seconds: int = 300  # enroll customers with a paid order
    claim_limit_per_ip: int = 20  # friends' code claims per hour from one IP (keyed hash)
    claim_limit_per_email: int = 5  # friends' code claims per hour for one email
    link_miss_limit_per_ip: int = 30  # unknown codes at /r/<code> per hour from one IP
    merchant_webhook_interval_seconds: int = 10  # send the merchant's outbound webhooks
    merchant_webhook_max_attempts: int = 12  # attempts before a delivery is marked failed
    merchant_webhook_disable_after_hours: int = 72  # an endpoint failing this long is disabled
    # Proxies in front of the web process whose X-Forwarded-For/-Proto we trust (1 behind one
    # router or load balancer); 0 = use the socket's address. Rate limits count by client IP.
    trusted_proxy_hops: int = 0
    # Merchant dashboard sign-in (magic links) and its sessions.
    sign_in_limit_per_shop: int = 5  # sign-in emails per hour to one store
    sign_in_limit_per_ip: int = 20  # sign-in requests per hour from one IP (per store)
    merchant_session_idle_minutes: int = 120  # a session unused this long ends
    merchant_session_max_hours: int = 12  # a session ends this long after sign-in regardless

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
            shopify_scopes=_scopes(env.get("SHOPIFY_SCOPES") or DEFAULT_SHOPIFY_SCOPES),
            shopify_shop_origin=env.get("SHOPIFY_SHOP_ORIGIN", "").strip().rstrip("/")
            or SHOPIFY_SHOP_ORIGIN,
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
            webhook_check_interval_seconds=_int(env, "WEBHOOK_CHECK_INTERVAL_SECONDS", 3600),
            friend_code_sync_interval_seconds=_int(env, "FRIEND_CODE_SYNC_INTERVAL_SECONDS", 15),
            join_limit_per_ip=_int(env, "JOIN_LIMIT_PER_IP", 20),
            join_limit_per_email=_int(env, "JOIN_LIMIT_PER_EMAIL", 5),
            invite_limit_per_ip=_int(env, "INVITE_LIMIT_PER_IP", 10),
            invite_limit_per_advocate=_int(env, "INVITE_LIMIT_PER_ADVOCATE", 20),
            shopper_email_interval_seconds=_int(env, "SHOPPER_EMAIL_INTERVAL_SECONDS", 3600),
            auto_enroll_interval_seconds=_int(env, "AUTO_ENROLL_INTERVAL_SECONDS", 300),
            claim_limit_per_ip=_int(env, "CLAIM_LIMIT_PER_IP", 20),
            claim_limit_per_email=_int(env, "CLAIM_LIMIT_PER_EMAIL", 5),
            link_miss_limit_per_ip=_int(env, "LINK_MISS_LIMIT_PER_IP", 30),
            merchant_webhook_interval_seconds=_int(env, "MERCHANT_WEBHOOK_INTERVAL_SECONDS", 10),
            merchant_webhook_max_attempts=_int(env, "MERCHANT_WEBHOOK_MAX_ATTEMPTS", 12),
            trusted_proxy_hops=_int(env, "TRUSTED_PROXY_HOPS", 0, minimum=0),
            merchant_webhook_disable_after_hours=_int(
                env, "MERCHANT_WEBHOOK_DISABLE_AFTER_HOURS", 72
            ),
            sign_in_limit_per_shop=_int(env, "SIGN_IN_LIMIT_PER_SHOP", 5),
            sign_in_limit_per_ip=_int(env, "SIGN_IN_LIMIT_PER_IP", 20),
            merchant_session_idle_minutes=_int(env, "MERCHANT_SESSION_IDLE_MINUTES", 120),
            merchant_session_max_hours=_int(env, "MERCHANT_SESSION_MAX_HOURS", 12),
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
        self._validate_shopify_install()
        if self.merchant_session_idle_minutes > self.merchant_session_max_hours * 60:
            raise SettingsError(
                "MERCHANT_SESSION_IDLE_MINUTES must not be longer than MERCHANT_SESSION_MAX_HOURS "
                f"({self.merchant_session_idle_minutes} minutes > "
                f"{self.merchant_session_max_hours} hours)"
            )

    def _validate_shopify_install(self) -> None:
        scopes = self.shopify_scopes.split(",")
        if not all(scope and _SCOPE_CHARS.issuperset(scope) for scope in scopes):
            raise SettingsError(
                "SHOPIFY_SCOPES must be comma-separated access scopes such as "
                f"read_orders,write_discounts; got {self.shopify_scopes!r}"
            )
        origin = urlsplit(self.shopify_shop_origin.replace("{shop}", "shop.myshopify.com"))
        if origin.scheme not in {"http", "https"} or not origin.netloc or origin.path:
            raise SettingsError(
                f"SHOPIFY_SHOP_ORIGIN must be an origin such as {SHOPIFY_SHOP_ORIGIN}, got "
                f"{self.shopify_shop_origin!r}"
            )
        if self.is_production and self.shopify_shop_origin != SHOPIFY_SHOP_ORIGIN:
            raise SettingsError(
                f"SHOPIFY_SHOP_ORIGIN must be {SHOPIFY_SHOP_ORIGIN} in production (unset it)"
            )


_SCOPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz_")


def _scopes(raw: str) -> str:
    """`read_orders, write_discounts` → `read_orders,write_discounts` (blank entries dropped)."""
    return ",".join(part.strip().lower() for part in raw.split(",") if part.strip())


def normalize_database_url(url: str) -> str:
    """Accept the common `postgres://` / `postgresql://` forms and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from exc
    if value < minimum:
        what = "positive" if minimum == 1 else f"at least {minimum}"
        raise SettingsError(f"{name} must be {what}, got {value}")
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
