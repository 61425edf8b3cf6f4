"""`GET /healthz`: is the process up and can it reach its database (and at which revision);
`GET /`: where to go from here."""

from __future__ import annotations

import logging
from typing import Any

from alembic.runtime.migration import MigrationContext
from flask import Blueprint, jsonify
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from referral_plugin.app import app_services

logger = logging.getLogger(__name__)

blueprint = Blueprint("health", __name__)


@blueprint.get("/")
def root() -> Any:
    """A map of the service for whoever opens the base URL."""
    return jsonify(
        {
            "service": "referral-plugin",
            "health": "/healthz",
            "admin_api": "/api/v1",
            "openapi": {"yaml": "/api/v1/openapi.yaml", "json": "/api/v1/openapi.json"},
            "webhooks": {"shopify": "/webhooks/shopify", "woocommerce": "/webhooks/woocommerce"},
            "admin_api_auth": "Authorization: Bearer <token from `referral-plugin shop token`>",
        }
    )


@blueprint.get("/healthz")
def healthz() -> Any:
    database = database_health(app_services().engine)
    if database["status"] != "ok":
        return jsonify({"status": "unavailable", "database": database}), 503
    return jsonify({"status": "ok", "database": database})


def database_health(engine: Engine) -> dict[str, Any]:
    """The database's status, dialect and Alembic revision; errors name only their class."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            revision = MigrationContext.configure(connection).get_current_revision()
    except (SQLAlchemyError, OSError) as exc:
        error_class = type(getattr(exc, "orig", None) or exc).__name__
        logger.warning("health check: database unavailable", extra={"error_class": error_class})
        return {"status": "unavailable", "dialect": engine.dialect.name, "error": error_class}
    return {"status": "ok", "dialect": engine.dialect.name, "revision": revision}
