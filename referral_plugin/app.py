"""The composition root of the web process: settings, database, secrets, blueprints, errors.

`create_app` builds everything the app needs and keeps it in one frozen `AppServices` value under
`app.extensions["referral_plugin"]`. Importing this module does nothing; the web process never
starts a scheduler (that is the `worker` process, see `referral_plugin.jobs`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from flask import Flask, abort, current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix

from referral_plugin import migrations
from referral_plugin.crypto import SecretBox
from referral_plugin.db import make_engine, make_sessionmaker
from referral_plugin.models.types import MAX_ROW_ID
from referral_plugin.settings import Settings

EXTENSION_KEY = "referral_plugin"
REWARD_CODE_KEY_PURPOSE = b"referral-plugin/reward-codes/v1"

logger = logging.getLogger(__name__)


def wall_clock() -> datetime:
    return datetime.now(tz=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class AppServices:
    """What request handlers need, built once per app."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    box: SecretBox
    code_key: bytes = field(repr=False)  # derives reward codes (`domain.codes.reward_code`)
    clock: Callable[[], datetime] = field(default=wall_clock)  # aware UTC; tests pin it


def build_services(settings: Settings) -> AppServices:
    """Engine, sessionmaker and SecretBox for `settings` (no connection is opened yet)."""
    engine = make_engine(settings.database_url)
    return AppServices(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        box=SecretBox(settings.encryption_key),
        code_key=reward_code_key(settings),
    )


def reward_code_key(settings: Settings) -> bytes:
    """The key reward codes are derived with: a purpose-bound HMAC of SECRET_KEY.

    Every process (web, worker, CLI) derives the same key, so a retried issue finds its code.
    """
    return hmac.new(settings.secret_key.encode(), REWARD_CODE_KEY_PURPOSE, hashlib.sha256).digest()


def refuse_ids_out_of_range(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """An `<int:...>` id in a URL is a row id, 1 to MAX_ROW_ID: any other number answers 404
    before the view runs, instead of reaching the database and failing there."""
    if values and any(
        isinstance(value, int) and not 0 < value <= MAX_ROW_ID for value in values.values()
    ):
        abort(404)


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], datetime] | None = None
) -> Flask:
    """The Flask app for `settings` (default: from the environment; raises SettingsError).
    `clock` (default: the wall clock, aware UTC) is what views that show "today" read, so
    tests can pin the day.

    In development on SQLite the schema is migrated here, so a fresh checkout just works; in
    production the Procfile `release:` step (`referral-plugin db upgrade`) does it.
    """
    # Blueprints import `app_services` from here, so they are imported when the app is built.
    from referral_plugin.api import admin, errors, health
    from referral_plugin.api import analytics as analytics_api
    from referral_plugin.api import compliance as compliance_api
    from referral_plugin.api import contests as contests_api
    from referral_plugin.api import experiments as experiments_api
    from referral_plugin.api import exports as exports_api
    from referral_plugin.api import operations as operations_api
    from referral_plugin.api import segments as segments_api
    from referral_plugin.api import webhook_endpoints as webhook_endpoints_api
    from referral_plugin.i18n import init_i18n
    from referral_plugin.web import contest_pages as contest_pages_web
    from referral_plugin.web import (
        friend_claim,
        referral_link,
        shopify_install,
        shopper,
        shopper_invite,
        shopper_status,
        unsubscribe,
        woocommerce_connect,
    )
    from referral_plugin.web.dashboard import advocates as dashboard_advocates
    from referral_plugin.web.dashboard import analytics as dashboard_analytics
    from referral_plugin.web.dashboard import contests as dashboard_contests
    from referral_plugin.web.dashboard import experiment_setup as dashboard_experiment_setup
    from referral_plugin.web.dashboard import experiments as dashboard_experiments
    from referral_plugin.web.dashboard import integrations as dashboard_integrations
    from referral_plugin.web.dashboard import pages as dashboard_pages
    from referral_plugin.web.dashboard import programs as dashboard_programs
    from referral_plugin.web.dashboard import review as dashboard_review
    from referral_plugin.web.dashboard import segments as dashboard_segments
    from referral_plugin.web.dashboard import sign_in as dashboard_sign_in
    from webhooks import edge as webhooks

    settings = settings or Settings.from_env()
    prepare_development_database(settings)
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.url_value_preprocessor(refuse_ids_out_of_range)
    app.config.update(
        SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=settings.webhook_max_body_bytes
    )
    app.json.sort_keys = False  # keep the field order of the service dicts
    services = build_services(settings)
    app.extensions[EXTENSION_KEY] = services if clock is None else replace(services, clock=clock)
    if settings.trusted_proxy_hops:  # the client's address, not the router's (rate limits)
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    errors.register_error_handlers(app)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(compliance_api.blueprint)
    app.register_blueprint(webhook_endpoints_api.blueprint)
    app.register_blueprint(exports_api.blueprint)
    app.register_blueprint(analytics_api.blueprint)
    app.register_blueprint(operations_api.blueprint)
    app.register_blueprint(contests_api.blueprint)
    app.register_blueprint(experiments_api.blueprint)
    app.register_blueprint(segments_api.blueprint)
    app.register_blueprint(webhooks.blueprint)
    app.register_blueprint(woocommerce_connect.blueprint)
    app.register_blueprint(shopify_install.blueprint)
    init_i18n(app)
    app.register_blueprint(shopper.blueprint)
    app.register_blueprint(shopper_status.blueprint)
    app.register_blueprint(referral_link.blueprint)
    app.register_blueprint(friend_claim.blueprint)
    app.register_blueprint(shopper_invite.blueprint)
    app.register_blueprint(unsubscribe.blueprint)
    app.register_blueprint(dashboard_sign_in.blueprint)
    app.register_blueprint(dashboard_pages.blueprint)
    app.register_blueprint(dashboard_advocates.blueprint)
    app.register_blueprint(dashboard_analytics.blueprint)
    app.register_blueprint(dashboard_review.blueprint)
    app.register_blueprint(dashboard_integrations.blueprint)
    app.register_blueprint(dashboard_experiments.blueprint)
    app.register_blueprint(dashboard_contests.blueprint)
    app.register_blueprint(dashboard_experiment_setup.blueprint)
    app.register_blueprint(dashboard_segments.blueprint)
    app.register_blueprint(dashboard_programs.blueprint)
    app.register_blueprint(contest_pages_web.blueprint)
    logger.info(
        "app created", extra={"environment": settings.environment, "dialect": _dialect(settings)}
    )
    return app


def prepare_development_database(settings: Settings) -> bool:
    """Migrate the schema when running in development on SQLite; True when it did."""
    if settings.environment != "development" or not settings.is_sqlite:
        return False
    migrations.upgrade(settings.database_url)
    return True


def app_services(app: Flask | None = None) -> AppServices:
    """The `AppServices` of `app` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION_KEY]


def _dialect(settings: Settings) -> str:
    return "sqlite" if settings.is_sqlite else "postgresql"
