"""The migration creates exactly the models' schema, and downgrades and upgrades cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from referral_plugin import migrations
from referral_plugin.db import make_engine
from referral_plugin.models import Base

SCHEMA = "migration_check"


@pytest.fixture
def fresh_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database next to the suite's: a new SQLite file, or a PostgreSQL schema."""
    if make_url(database_url).get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    admin = make_engine(database_url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    separator = "&" if "?" in database_url else "?"
    yield f"{database_url}{separator}options=-csearch_path%3D{SCHEMA}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    admin.dispose()


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_matches_models_exactly(fresh_url: str) -> None:
    migrations.upgrade(fresh_url)
    engine = make_engine(fresh_url)
    try:
        assert _tables(engine) == set(Base.metadata.tables)
        assert _differences(engine) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_then_upgrade_again(fresh_url: str) -> None:
    migrations.upgrade(fresh_url)
    migrations.downgrade(fresh_url, "base")
    engine = make_engine(fresh_url)
    try:
        assert _tables(engine) == set()
        migrations.upgrade(fresh_url)
        engine.dispose()
        assert _tables(engine) == set(Base.metadata.tables)
        assert _differences(engine) == []
    finally:
        engine.dispose()


def test_upgrade_is_a_no_op_when_current(fresh_url: str) -> None:
    migrations.upgrade(fresh_url)
    migrations.upgrade(fresh_url)
    engine = make_engine(fresh_url)
    try:
        with engine.connect() as conn:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert current == migrations.head_revision()
    finally:
        engine.dispose()
