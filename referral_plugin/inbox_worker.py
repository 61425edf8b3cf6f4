"""The inbox drain: claim a batch, process it in chunks of deliveries, repeat.

Transactions: one to claim a batch (committed at once, so the lease is visible to other
workers), then one per chunk of CHUNK_SIZE deliveries, each delivery's effects in its own
savepoint: a delivery that fails rolls back only its savepoint and is recorded as failed; its
done mark commits with its effects, so nothing is done twice. When a chunk's transaction is
lost (connection dropped, database restarting), nothing of it committed and the rest of the
batch goes one delivery per transaction, a lost one having its failure recorded in a fresh
transaction. Between deliveries the stop flag is checked; on stop the chunk so far commits and
the rest of the batch is released for the next worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from referral_plugin.app import AppServices
from referral_plugin.domain.events import Platform
from referral_plugin.models import DeliveryStatus
from referral_plugin.services.deliveries import (
    Backoff,
    DeliveryResult,
    DeliveryTranslator,
    claim_deliveries,
    describe_error,
    exponential_backoff,
    lock_deliveries,
    process_delivery,
    process_locked,
    record_delivery_failure,
    release_deliveries,
)
from referral_plugin.services.delivery_batches import process_order_deliveries

logger = logging.getLogger(__name__)

MAX_DRAIN_SECONDS = 60  # one run's bound; the next run carries on with the backlog
# Deliveries per transaction: the bulk order path and each commit (a WAL flush) are shared by
# this many, while row and order locks are held only for one chunk's time. On PostgreSQL a chunk
# is the default batch (bench/process.py: 100 gave 1.3x the events/s of 50, and 200 no more
# than 100 while two workers' share of a batch grew lumpier). SQLite's one write lock is shared
# with the webhook edge, so its chunks are smaller.
CHUNK_SIZE = {"postgresql": 100, "sqlite": 20}


def drain_inbox(
    services: AppServices,
    *,
    worker: str,
    stop: threading.Event,
    clock: Callable[[], datetime],
    connectors: Mapping[Platform, DeliveryTranslator],
) -> int:
    """Claim and process batches while a full batch comes back (a backlog), until `stop` is
    set or MAX_DRAIN_SECONDS pass; returns how many deliveries were processed."""
    batch_size = services.settings.inbox_batch_size
    deadline = time.monotonic() + MAX_DRAIN_SECONDS
    handled = 0
    while not stop.is_set():
        with services.sessions.begin() as session:
            ids = claim_deliveries(
                session,
                now=clock(),
                limit=batch_size,
                lease_seconds=services.settings.inbox_lease_seconds,
                worker=worker,
            )
        handled += process_batch(
            services, ids, worker=worker, stop=stop, clock=clock, connectors=connectors
        )
        if len(ids) < batch_size or time.monotonic() >= deadline:
            break
    return handled


def process_batch(
    services: AppServices,
    ids: Sequence[int],
    *,
    worker: str,
    stop: threading.Event,
    clock: Callable[[], datetime],
    connectors: Mapping[Platform, DeliveryTranslator],
) -> int:
    """Process claimed deliveries in chunks, one transaction each; on stop, release the rest.

    When a chunk's transaction is lost (nothing of it committed), the rest of the batch is
    processed one transaction per delivery (`process_singly`), which records failures afresh.
    """
    handled = position = 0
    size = CHUNK_SIZE.get(services.engine.dialect.name, 1)
    while position < len(ids):
        if stop.is_set():
            release(services, ids[position:], worker=worker)
            return handled
        chunk = ids[position : position + size]
        try:
            handled += process_chunk(
                services, chunk, worker=worker, stop=stop, clock=clock, connectors=connectors
            )
        except Exception:
            logger.warning("batch transaction lost: going one delivery at a time", exc_info=True)
            return handled + process_singly(
                services,
                ids[position:],
                worker=worker,
                stop=stop,
                clock=clock,
                connectors=connectors,
            )
        position += len(chunk)
    return handled


def process_chunk(
    services: AppServices,
    chunk: Sequence[int],
    *,
    worker: str,
    stop: threading.Event,
    clock: Callable[[], datetime],
    connectors: Mapping[Platform, DeliveryTranslator],
) -> int:
    """Deliveries in one transaction: first the bulk order path for those it can take, then
    each other one in its own savepoint (a failure rolls back only its own and is recorded on
    its row). When `stop` is set, what is left is released after the commit (at least one
    delivery is processed). Results are logged once committed. Returns how many were processed:
    every other delivery of the chunk was released."""
    settings = services.settings
    backoff = _backoff(services)
    left: list[int] = []
    with services.sessions.begin() as session:
        locked = lock_deliveries(session, chunk)
        results = process_order_deliveries(
            session,
            locked,
            worker=worker,
            connectors=connectors,
            now=clock(),
            code_key=services.code_key,
            max_attempts=settings.inbox_max_attempts,
        )
        done = {result.delivery_id for result in results}
        for delivery_id in chunk:
            if delivery_id in done:
                continue
            if results and stop.is_set():
                left.append(delivery_id)
                continue
            result = process_locked(
                session,
                delivery_id,
                locked.get(delivery_id),
                worker=worker,
                connectors=connectors,
                now=clock(),
                code_key=services.code_key,
                box=services.box,
                max_attempts=settings.inbox_max_attempts,
                backoff=backoff,
            )
            results.append(result)
    release(services, left, worker=worker)
    for result in results:
        log_result(result)
    return len(results)


def process_singly(
    services: AppServices,
    ids: Sequence[int],
    *,
    worker: str,
    stop: threading.Event,
    clock: Callable[[], datetime],
    connectors: Mapping[Platform, DeliveryTranslator],
) -> int:
    """Process claimed deliveries one transaction each; on stop, release the rest. Raises
    when even a failure cannot be recorded (the database is gone): the rest is released if
    possible, and the failing delivery returns after its lease."""
    for index, delivery_id in enumerate(ids):
        if stop.is_set():
            release(services, ids[index:], worker=worker)
            return index
        try:
            process_one(services, delivery_id, worker=worker, clock=clock, connectors=connectors)
        except Exception:
            release(services, ids[index + 1 :], worker=worker)
            raise
    return len(ids)


def process_one(
    services: AppServices,
    delivery_id: int,
    *,
    worker: str,
    clock: Callable[[], datetime],
    connectors: Mapping[Platform, DeliveryTranslator],
) -> DeliveryResult:
    """One delivery in one transaction; a lost transaction's failure is recorded afresh."""
    settings = services.settings
    backoff = _backoff(services)
    try:
        with services.sessions.begin() as session:
            result = process_delivery(
                session,
                delivery_id,
                worker=worker,
                connectors=connectors,
                now=clock(),
                code_key=services.code_key,
                box=services.box,
                max_attempts=settings.inbox_max_attempts,
                backoff=backoff,
            )
    except Exception as exc:  # the whole transaction is gone: record the failure in a new one
        logger.warning(
            "delivery transaction lost", extra={"delivery_id": delivery_id}, exc_info=True
        )
        with services.sessions.begin() as session:
            result = record_delivery_failure(
                session,
                delivery_id,
                worker=worker,
                error=describe_error(exc),
                now=clock(),
                max_attempts=settings.inbox_max_attempts,
                backoff=backoff,
            )
    log_result(result)
    return result


def _backoff(services: AppServices) -> Backoff:
    settings = services.settings
    return exponential_backoff(
        settings.inbox_backoff_base_seconds, settings.inbox_backoff_max_seconds
    )


def release(services: AppServices, ids: Sequence[int], *, worker: str) -> None:
    """Give claimed deliveries back; if that fails too, their leases expire instead."""
    if not ids:
        return
    try:
        with services.sessions.begin() as session:
            released = release_deliveries(session, ids, worker=worker)
    except Exception:
        logger.warning("claimed deliveries not released: their leases will expire", exc_info=True)
        return
    logger.info("deliveries released", extra={"released": released, "worker": worker})


def log_result(result: DeliveryResult) -> None:
    fields = {
        "delivery_id": result.delivery_id,
        "shop_id": result.shop_id,
        "topic": result.topic,
        "status": result.status,
    }
    if not result.processed:
        logger.info("delivery skipped: not ours any more", extra=fields)
    elif result.status == DeliveryStatus.DONE:
        logger.info("delivery done", extra={**fields, "events": result.events})
    else:
        logger.warning("delivery failed", extra={**fields, "error": result.error})
