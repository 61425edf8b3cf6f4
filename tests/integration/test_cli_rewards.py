"""`referral-plugin rewards list / retry`, run in-process on a fresh SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from referral_plugin.cli import main
from referral_plugin.db import make_engine
from referral_plugin.domain.lifecycle import RewardStatus
from referral_plugin.models import Reward
from referral_plugin.services.issuing import issue_due_rewards
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.fakes import FakeStoreClient, rejected
from tests.integration.builders import CODE_KEY
from tests.integration.reward_builders import APPROVED_AT, approved_reward


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    env = {
        "APP_ENV": "test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "cli-test-secret",
        "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
    }
    assert main(["db", "upgrade"], environ=env) == 0
    return env


def failed_and_issued(url: str) -> tuple[int, int]:
    """Commit one reward whose store call failed for good and one issued reward."""
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        failed = approved_reward(session)
        issued = approved_reward(session, shop=failed.shop, order_id="2", email="b@example.com")
        store = FakeStoreClient().fail_next(rejected("minimum subtotal is invalid"))
        issue_due_rewards(
            session, shop_id=failed.shop.id, client=store, now=APPROVED_AT, code_key=CODE_KEY
        )
        ids = failed.reward.id, issued.reward.id
    engine.dispose()
    return ids


def test_failed_rewards_are_listed_and_retried(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    failed_id, issued_id = failed_and_issued(environ["DATABASE_URL"])
    capsys.readouterr()

    assert main(["rewards", "list", "--failed"], environ=environ) == 0
    listed = capsys.readouterr().out
    assert main(["rewards", "retry", "--id", str(issued_id)], environ=environ) == 2
    refused = capsys.readouterr().err
    assert main(["rewards", "retry", "--failed"], environ=environ) == 0
    retried = capsys.readouterr().out

    assert f"{failed_id:>6}" in listed and "code=INVALID" in listed
    assert f"{issued_id:>6} " not in listed
    assert refused.startswith("error: reward") and "Traceback" not in refused
    assert f"[{failed_id}]" in retried
    engine = make_engine(environ["DATABASE_URL"])
    with Session(engine) as session:
        reward = session.get(Reward, failed_id)
        assert reward.status is RewardStatus.APPROVED
        assert reward.next_store_attempt_at is not None and reward.store_attempts == 0
    engine.dispose()


def test_retry_needs_an_id_or_failed(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rewards", "retry"], environ=environ) == 2
    assert "--id" in capsys.readouterr().err
