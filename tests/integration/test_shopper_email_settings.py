"""The shopper-email settings (invite rate limits, job intervals) read from the environment and
validated, and the worker's shopper-email jobs scheduled at those intervals and recorded in
`job_runs` like every job (what `referral-plugin status` shows)."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from referral_plugin.app import AppServices, build_services
from referral_plugin.jobs import JOBS, build_scheduler, run_job
from referral_plugin.models import JobRun
from referral_plugin.settings import Settings, SettingsError

NOW = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
SHOPPER_EMAIL_JOBS = {
    "prepare_shopper_emails": "outbox_interval_seconds",
    "queue_expiry_reminders": "shopper_email_interval_seconds",
    "queue_share_nudges": "shopper_email_interval_seconds",
    "auto_enroll_customers": "auto_enroll_interval_seconds",
}


def environment(tmp_path: Path, **values: str) -> dict[str, str]:
    key = base64.urlsafe_b64encode(b"e" * 32).decode()
    return {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s", "ENCRYPTION_KEY": key, **values}


def test_the_defaults_limit_invitations_and_pace_the_jobs(tmp_path: Path) -> None:
    settings = Settings.from_env(environment(tmp_path))
    assert (settings.invite_limit_per_ip, settings.invite_limit_per_advocate) == (10, 20)
    assert settings.shopper_email_interval_seconds == 3600
    assert settings.auto_enroll_interval_seconds == 300


def test_the_environment_overrides_them(tmp_path: Path) -> None:
    settings = Settings.from_env(
        environment(
            tmp_path,
            INVITE_LIMIT_PER_IP="3",
            INVITE_LIMIT_PER_ADVOCATE="8",
            SHOPPER_EMAIL_INTERVAL_SECONDS="600",
            AUTO_ENROLL_INTERVAL_SECONDS="60",
        )
    )
    assert (settings.invite_limit_per_ip, settings.invite_limit_per_advocate) == (3, 8)
    assert (settings.shopper_email_interval_seconds, settings.auto_enroll_interval_seconds) == (
        600,
        60,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INVITE_LIMIT_PER_IP", "0"),
        ("INVITE_LIMIT_PER_ADVOCATE", "many"),
        ("SHOPPER_EMAIL_INTERVAL_SECONDS", "-5"),
        ("AUTO_ENROLL_INTERVAL_SECONDS", "1.5"),
    ],
)
def test_an_unusable_value_is_named(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(environment(tmp_path, **{name: value}))


@pytest.fixture
def services(settings: Settings, engine: Engine) -> Iterator[AppServices]:
    changed = dataclasses.replace(
        settings,
        outbox_interval_seconds=31,
        shopper_email_interval_seconds=1801,
        auto_enroll_interval_seconds=301,
    )
    built = build_services(changed)
    yield built
    built.engine.dispose()


def test_the_shopper_email_jobs_are_scheduled_at_their_intervals(services: AppServices) -> None:
    scheduled = {job.id: job for job in build_scheduler(services, clock=lambda: NOW).get_jobs()}
    for name, setting in SHOPPER_EMAIL_JOBS.items():
        interval = scheduled[name].trigger.interval.total_seconds()
        assert interval == getattr(services.settings, setting), name


def test_each_run_is_recorded_for_the_status_command(services: AppServices) -> None:
    jobs = [job for job in JOBS if job.name in SHOPPER_EMAIL_JOBS]
    assert {job.name for job in jobs} == set(SHOPPER_EMAIL_JOBS)
    for job in jobs:
        assert isinstance(run_job(job, services, clock=lambda: NOW), int)
    with services.sessions() as session:
        runs = session.scalars(select(JobRun).where(JobRun.name.in_(SHOPPER_EMAIL_JOBS))).all()
    assert {(run.name, run.last_status) for run in runs} == {
        (name, "ok") for name in SHOPPER_EMAIL_JOBS
    }
