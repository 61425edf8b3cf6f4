"""The worker's jobs that talk to the outside: issue and revoke rewards in the store, reconcile
orders, send the outbox. Each has the `ScheduledJob.run` signature `(session, *, now, services)`.

Transactions: these jobs own one transaction per shop (store jobs) or per step (outbox), taken
from `services.sessions`, so one shop's failure or slow API never rolls back or blocks another,
and no transaction stays open across a whole run of store calls. The `session` that `run_job`
passes is left unused and never connects: on SQLite it would take the single write lock that
the per-shop transactions need. A shop that fails unexpectedly is logged and the others still
run; the job then raises `ShopsFailed` so `run_job` records the run as failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import cache

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from referral_plugin.app import AppServices
from referral_plugin.domain.lifecycle import RewardStatus
from referral_plugin.domain.store import StoreClientError
from referral_plugin.mailer import mailer_from_settings
from referral_plugin.models import RevokeState, Reward, Shop, ShopStatus
from referral_plugin.services import issuing, outbox, reconciliation
from referral_plugin.services.store_failures import is_throttle, pause_shop, throttle_pause
from referral_plugin.store_clients import ClientFor, client_or_unavailable, store_client_for

logger = logging.getLogger(__name__)

ShopWork = Callable[[Session, Shop], int]


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
    back) and is logged; a throttle pauses the shop. Shops without a client are skipped."""
    with services.sessions.begin() as listing:
        shop_ids = list(
            listing.scalars(select(Shop.id).where(_callable_shop(now)).order_by(Shop.id))
        )
    total = 0
    for shop_id in shop_ids:
        total += _reconcile_one(services, shop_id, now, client_for)
    return total


def _reconcile_one(
    services: AppServices, shop_id: int, now: datetime, client_for: ClientFor
) -> int:
    try:
        with services.sessions.begin() as shop_session:
            shop = shop_session.get(Shop, shop_id)
            if shop is None:
                return 0
            client = client_for(shop, services)
            return reconciliation.reconcile_shop(
                shop_session, shop_id=shop_id, client=client, now=now
            )
    except StoreClientError as error:
        logger.warning(
            "reconcile skipped",
            extra={"shop_id": shop_id, "status": error.status, "error_code": error.code},
        )
        if is_throttle(error):
            with services.sessions.begin() as pause_session:
                pause_shop(pause_session, shop_id, now + throttle_pause(error))
        return 0


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
