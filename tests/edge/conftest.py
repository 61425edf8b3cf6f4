"""The Flask app under test, built from the session's settings and migrated database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from referral_plugin.app import app_services, create_app
from referral_plugin.settings import Settings


def built_app(settings: Settings) -> Iterator[Flask]:
    """An app for `settings`; its engine is disposed when the test is done."""
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app_services(app).engine.dispose()


@pytest.fixture
def app(settings: Settings, engine: Engine) -> Iterator[Flask]:
    yield from built_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
