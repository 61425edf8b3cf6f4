"""The two periods of an analytics answer read at the same time: on PostgreSQL, with a session
bound to an engine (as the app's are), the period before is read on a connection of its own.
The answer must be the hand-computed one of `analytics_world`, whichever way it was read."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from referral_plugin.db import make_engine
from referral_plugin.services import analytics
from referral_plugin.services.analytics import shop_analytics
from tests.inbox_support import own_database
from tests.integration.analytics_world import MARCH, TODAY, build_world
from tests.integration.test_analytics import ALL_PROGRAMS, values


def test_the_periods_read_side_by_side_equal_the_hand_computation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with own_database(tmp_path) as url:
        engine = make_engine(url)
        try:
            with Session(bind=engine) as session, session.begin():
                shop_id = build_world(session).shop_id  # committed: another connection sees it
            side_by_side = _spy_on(monkeypatch)

            with Session(bind=engine) as session, session.begin():
                found = shop_analytics(session, shop_id, MARCH, today=TODAY)
        finally:
            engine.dispose()

    assert values(found.metrics) == ALL_PROGRAMS
    assert side_by_side == ([True] if engine.dialect.name == "postgresql" else [])
    assert sum(p.referred_orders for p in found.previous_series.points) == 1


def _spy_on(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records each time the period before is read on a connection of its own."""
    calls: list[bool] = []
    original = analytics._period_on_its_own

    def spy(engine: Engine, *args: object) -> object:
        calls.append(True)
        return original(engine, *args)

    monkeypatch.setattr(analytics, "_period_on_its_own", spy)
    return calls
