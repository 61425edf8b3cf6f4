"""The worker's jobs that talk to the outside: issue and revoke rewards in the store, reconcile
orders, send the outbox. Each has the `ScheduledJob.run` signature `(session, *, now, services)`.

Transactions: these jobs own one transaction per shop (store jobs) or per step (outbox), taken
from `services.sessions`, so one shop's failure or slow API never rolls back or blocks another,
and no transaction stays open across a whole run of store calls. The `session` that `run_job`
passes is left unused and never connects: on SQLite it would take the single write lock that
the per-shop transactions need. A shop that fails unexpectedly is logged and the others still
run; the job then raises `ShopsFailed` so `run_job` records the run as failed.

Jobs that visit every shop on a timer (reconcile orders; ensure webhook subscriptions in
`subscription_jobs`) first take the shop's lease (`services.shop_leases`), so with several
workers one store is read by one worker at a time, and each shop's last outcome is kept.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from referral_plugin.app import AppServices
from referral_plugin.domain.events import Platform
from referral_plugin.domain.lifecycle import RewardStatus
from referral_plugin.domain.store import StoreClientError
from referral_plugin.mailer import mailer_from_settings
from referral_plugin.models import RevokeState, Reward, Shop, ShopStatus
from referral_plugin.services import issuing, outbox, reconciliation, shop_leases
from referral_plugin.services.deliveries import describe_error
from referral_plugin.services.store_failures import is_throttle, pause_shop, throttle_pause
from referral_plugin.store_clients import ClientFor, client_or_unavailable, store_client_for

logger = logging.getLogger(__name__)

ShopWork = Callable[[Session, Shop], int]
# A shop's lease outlives any sane run for it (three retried 30 s reads per page, a few pages);
# a worker killed mid-way frees the shop after this.
SHOP_LEASE = timedelta(minutes=15)


class ShopsFailed(RuntimeError):
    """Some shops failed unexpectedly in a run (each is logged); the others were handled."""


def _shops_with_due_rewards(services: AppServices, now: datetime, revoke: bool) -> list[int]:
    wanted = (
        Reward.revoke_state == RevokeState.PENDING
        if revoke
        else Reward.status == RewardStatus.APPROVED
    )
    query = (
        select(Reward.shop_id)
        .join(Shop, Shop.id == Reward.shop_id)
        .where(wanted, issuing.due_for_store(now), _callable_shop(now))
        .distinct()
        .order_by(Reward.shop_id)
    )
    with services.sessions.begin() as session:
        return list(session.scalars(query))


def _callable_shop(now: datetime) -> ColumnElement[bool]:
    """Installed shops that did not ask us to wait."""
    return and_(
        Shop.status == ShopStatus.ACTIVE,
        or_(Shop.store_paused_until.is_(None), Shop.store_paused_until <= now),
    )


def _each_shop(services: AppServices, shop_ids: list[int], work: ShopWork, job: str) -> int:
    """Run `work` for each shop in its own transaction; returns the summed counts."""
    total, failed = 0, []
    for shop_id in shop_ids:
        try:
            with services.sessions.begin() as session:
                shop = session.get(Shop, shop_id)
                total += work(session, shop) if shop is not None else 0
        except Exception:  # isolate the shop; logged, and the run is reported failed below
            logger.exception("shop failed", extra={"job": job, "shop_id": shop_id})
            failed.append(shop_id)
    if failed:
        raise ShopsFailed(f"{job}: {len(failed)} shop(s) failed: {failed[:20]}")
    return total


def issue_rewards(
    session: Session,
    *,
    now: datetime,
    services: AppServices,
    client_for: ClientFor = store_client_for,
) -> int:
    """Issue the due approved rewards of every installed, unpaused shop; returns how many
    rewards changed (issued, recorded, or failure recorded)."""

    def work(shop_session: Session, shop: Shop) -> int:
        client = client_or_unavailable(shop, services, client_for)
        report = issuing.issue_due_rewards(
            shop_session, shop_id=shop.id, client=client, now=now, code_key=services.code_key
        )
        return report.handled

    shop_ids = _shops_with_due_rewards(services, now, revoke=False)
    return _each_shop(services, shop_ids, work, "issue_rewards")


def revoke_rewards(
    session: Session,
    *,
    now: datetime,
    services: AppServices,
    client_for: ClientFor = store_client_for,
) -> int:
    """Disable the store codes of reversed rewards, per shop; returns how many changed."""

    def work(shop_session: Session, shop: Shop) -> int:
        client = client_or_unavailable(shop, services, client_for)
        return issuing.revoke_reversed_rewards(
            shop_session, shop_id=shop.id, client=client, now=now
        )

    shop_ids = _shops_with_due_rewards(services, now, revoke=True)
    return _each_shop(services, shop_ids, work, "revoke_rewards")


def reconcile_orders(
    session: Session,
    *,
    now: datetime,
    services: AppServices,
    client_for: ClientFor = store_client_for,
) -> int:
    """Feed each installed shop's recently updated orders into the inbox; returns how many new
    deliveries were stored. A store error leaves that shop's watermark (its transaction rolls
    back), is logged and recorded on the shop's lease; a throttle pauses the shop. Shops without
    a client are skipped; a shop another worker is reconciling is skipped too (its lease)."""
    total = 0
    for shop_id in callable_shop_ids(services, now):
        try:
            total += run_leased(
                services, shop_id, "reconcile_orders", now,
                lambda shop_id=shop_id: _reconcile_one(services, shop_id, now, client_for),
            ) or 0  # fmt: skip
        except StoreClientError as error:
            note_store_error(services, shop_id, now, error, "reconcile skipped")
    return total


def note_store_error(
    services: AppServices, shop_id: int, now: datetime, error: StoreClientError, what: str
) -> None:
    """Log a store error of one shop (never its message: it may name the store's URL with
    keys over plain http); a throttle pauses the shop for every worker."""
    logger.warning(
        what, extra={"shop_id": shop_id, "status": error.status, "error_code": error.code}
    )
    if is_throttle(error):
        with services.sessions.begin() as pause_session:
            pause_shop(pause_session, shop_id, now + throttle_pause(error))


def callable_shop_ids(
    services: AppServices, now: datetime, platform: Platform | None = None
) -> list[int]:
    """Installed shops that did not ask us to wait (of `platform`, when given), by id."""
    query = select(Shop.id).where(_callable_shop(now)).order_by(Shop.id)
    if platform is not None:
        query = query.where(Shop.platform == platform)
    with services.sessions.begin() as listing:
        return list(listing.scalars(query))


def run_leased(
    services: AppServices, shop_id: int, job: str, now: datetime, work: Callable[[], int]
) -> int | None:
    """Run `work` holding the shop's lease for `job`; None when another worker holds it. The
    outcome is recorded on the lease; an exception from `work` is recorded, then raised."""
    worker = lease_holder()
    with services.sessions.begin() as claiming:
        if not shop_leases.claim_shop(
            claiming, shop_id, job, worker=worker, now=now, lease=SHOP_LEASE
        ):
            return None
    error: str | None = None
    try:
        return work()
    except Exception as exc:
        error = describe_error(exc)
        raise
    finally:
        with services.sessions.begin() as releasing:
            shop_leases.release_shop(releasing, shop_id, job, worker=worker, now=now, error=error)


def lease_holder() -> str:
    """`hostname:pid`, as the worker records its other claims."""
    return f"{socket.gethostname()}:{os.getpid()}"[-64:]


def _reconcile_one(
    services: AppServices, shop_id: int, now: datetime, client_for: ClientFor
) -> int:
    with services.sessions.begin() as shop_session:
        shop = shop_session.get(Shop, shop_id)
        if shop is None:
            return 0
        client = client_for(shop, services)
        return reconciliation.reconcile_shop(shop_session, shop_id=shop_id, client=client, now=now)


@cache
def _report_mail_not_configured() -> None:
    """Logged once per process: the outbox keeps its messages until SMTP_URL is set."""
    logger.warning("mail not configured: SMTP_URL is unset; outbox messages stay queued")


def send_outbox(session: Session, *, now: datetime, services: AppServices) -> int:
    """Send due outbox messages (claim, send, mark: each its own transaction); returns how many
    were sent. Without SMTP_URL it reports "mail not configured" once and sends nothing."""
    settings = services.settings
    mailer = mailer_from_settings(settings.smtp_url, settings.public_base_url)
    if mailer is None:
        _report_mail_not_configured()
        return 0
    report = outbox.send_due_messages(services.sessions, mailer=mailer, now=now)
    return report.sent
