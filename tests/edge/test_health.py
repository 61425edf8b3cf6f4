"""`GET /healthz`: 200 with the database's dialect and revision, 503 when it is unreachable."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import Engine

from referral_plugin.migrations import alembic_config
from referral_plugin.settings import Settings
from tests.edge.conftest import built_app

UNREACHABLE_DATABASE = "postgresql+psycopg://health:do-not-leak@127.0.0.1:9/nowhere"


@pytest.fixture
def app_without_database(settings: Settings) -> Iterator[Flask]:
    yield from built_app(dataclasses.replace(settings, database_url=UNREACHABLE_DATABASE))


def test_healthy_database_reports_dialect_and_head_revision(app: Flask, engine: Engine) -> None:
    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()

    response = app.test_client().get("/healthz")

    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "database": {"status": "ok", "dialect": engine.dialect.name, "revision": head},
    }


def test_unreachable_database_answers_503_naming_only_the_error_class(
    app_without_database: Flask,
) -> None:
    response = app_without_database.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    database = response.json["database"]
    assert database["status"] == "unavailable"
    assert database["dialect"] == "postgresql"
    assert database["error"] == "OperationalError"
    assert "do-not-leak" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("environment", "migrated"),
    [("development", True), ("production", False)],
)
def test_only_development_on_sqlite_migrates_when_the_app_is_built(
    environment: str, migrated: bool, settings: Settings, tmp_path: Path
) -> None:
    fresh = f"sqlite:///{tmp_path / f'{environment}.db'}"
    head = ScriptDirectory.from_config(alembic_config(fresh)).get_current_head()

    for app in built_app(
        dataclasses.replace(settings, database_url=fresh, environment=environment)
    ):
        revision = app.test_client().get("/healthz").json["database"]["revision"]

        assert revision == (head if migrated else None)


def test_the_base_url_points_to_health_api_and_openapi(app: Flask) -> None:
    client = app.test_client()
    body = client.get("/").json
    assert body["health"] == "/healthz"
    assert client.get(body["openapi"]["json"]).status_code == 200
    assert client.get(body["health"]).status_code == 200
