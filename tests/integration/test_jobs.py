"""The worker's job table and scheduler: one transaction per run, failures logged, not fatal."""

from __future__ import annotations

import dataclasses
import gc
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from connectors.registry import STORE_CLIENT_FACTORIES
from referral_plugin import jobs
from referral_plugin.app import AppServices, build_services
from referral_plugin.domain.events import Platform
from referral_plugin.jobs import JOBS, ScheduledJob, build_scheduler, run_job
from referral_plugin.settings import Settings
from tests.fakes import FakeStoreClient

NOW = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def services(settings: Settings, engine: Engine) -> Iterator[AppServices]:
    built = build_services(dataclasses.replace(settings, mature_interval_seconds=17))
    yield built
    built.engine.dispose()


def counting_job(session: Session, *, now: datetime, services: AppServices) -> int:
    return session.execute(text("SELECT 3")).scalar_one()


def failing_job(session: Session, *, now: datetime, services: AppServices) -> int:
    raise RuntimeError("store API down")


def test_the_job_table_schedules_reward_maturing_at_the_configured_interval(
    services: AppServices,
) -> None:
    scheduler = build_scheduler(services, clock=lambda: NOW)

    scheduled = {job.id: job for job in scheduler.get_jobs()}

    assert set(scheduled) == {job.name for job in JOBS} >= {"mature_held_rewards"}
    assert scheduled["mature_held_rewards"].trigger.interval.total_seconds() == 17


def test_a_run_returns_what_the_job_handled(services: AppServices) -> None:
    job = ScheduledJob(name="count", run=counting_job, interval_seconds=lambda s: 60)

    assert run_job(job, services, clock=lambda: NOW) == 3


def test_the_real_jobs_run_against_the_database(
    services: AppServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every shop other tests left in the database gets an in-memory store, never a real one.
    for platform in Platform:
        monkeypatch.setitem(STORE_CLIENT_FACTORIES, platform, lambda *_: FakeStoreClient())
    for job in JOBS:
        assert isinstance(run_job(job, services, clock=lambda: NOW), int)


def test_a_failing_run_is_logged_and_does_not_raise(
    services: AppServices, caplog: pytest.LogCaptureFixture
) -> None:
    job = ScheduledJob(name="flaky", run=failing_job, interval_seconds=lambda s: 60)

    with caplog.at_level(logging.ERROR, logger="referral_plugin.jobs"):
        assert run_job(job, services, clock=lambda: NOW) is None

    assert [record.job for record in caplog.records] == ["flaky"]


def test_the_worker_tunes_the_garbage_collector_before_its_jobs_start(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    class Scheduler:
        running = False

        def start(self) -> None:
            calls.append("jobs start")

    monkeypatch.setattr(jobs, "tune_garbage_collection", lambda: calls.append("gc tuned"))
    monkeypatch.setattr(jobs, "build_scheduler", lambda *args, **kwargs: Scheduler())
    monkeypatch.setattr(jobs, "stop_on_signals", lambda *args: None)

    jobs.run_worker(settings, jobs=())

    assert calls == ["gc tuned", "jobs start"]


def test_tuning_freezes_what_start_up_made_and_raises_the_youngest_threshold() -> None:
    before = gc.get_threshold()
    try:
        jobs.tune_garbage_collection()

        assert gc.get_threshold() == jobs.GC_THRESHOLDS
        assert jobs.GC_THRESHOLDS[0] > before[0]
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
