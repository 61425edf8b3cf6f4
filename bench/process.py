"""Order processing throughput: the real inbox drain over realistic Shopify order deliveries.

    /work/venv/bin/python bench/process.py                          # SQLite and PostgreSQL
    /work/venv/bin/python bench/process.py --databases postgres --orders 5000

Target (issue 3): >= 1,000 order events/s for one worker on PostgreSQL, on a mix where about 1
order in 10 carries an enrolled advocate's code; two workers >= 1.6x one. For each run the
database is reset and migrated, a shop with a two-sided program and its advocates is set up,
and the inbox is filled through `services.inbox.store_delivery` (the rows the edge writes) with
signed `orders/paid` deliveries built from the Shopify docs sample (distinct order ids, emails
and IPs; ~10 % with an advocate's discount code; a few later `refunds/create` and
`orders/cancelled`). Then worker processes run the real drain (`inbox_worker.drain_inbox`, as
the `drain_inbox` job does) until the inbox is empty: events/s = deliveries / wall time from
the start signal to the last worker's end. SQLite has a single writer (BEGIN IMMEDIATE), so it
runs one worker only. Targets are printed as information, never asserted.

After each run the database is checked: every delivery done, one order-event row per delivery,
one conversion per order, referrals exactly for the orders carrying a code, rewards only on
referred orders, no reward twice. A fingerprint of the outcomes (order, outcome, referral
status, rewards) must be the same for every run: worker count and database change nothing.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from ingest import (  # noqa: E402 - ingest puts the repository on sys.path
    BODY_FILE,
    DEFAULT_POSTGRES_URL,
    SHOP_DOMAIN,
    bench_settings,
    log,
    machine_cpu,
    prepare_database,
)
from sqlalchemy import func, select  # noqa: E402

from connectors.registry import CONNECTORS  # noqa: E402
from connectors.signatures import sign_body  # noqa: E402
from referral_plugin.app import build_services  # noqa: E402
from referral_plugin.domain.events import Platform  # noqa: E402
from referral_plugin.inbox_worker import drain_inbox  # noqa: E402
from referral_plugin.jobs import tune_garbage_collection  # noqa: E402
from referral_plugin.models import (  # noqa: E402
    Conversion,
    OrderEventRecord,
    Referral,
    Reward,
    WebhookDelivery,
)
from referral_plugin.services.advocates import enroll_advocate  # noqa: E402
from referral_plugin.services.inbox import store_delivery  # noqa: E402
from referral_plugin.services.programs import create_program  # noqa: E402

ONE_WORKER_TARGET = 1000.0  # events/s, PostgreSQL
SCALING_TARGET = 1.6  # two workers / one
PROGRAM = {
    "name": "Give 15%, get 10",
    "kind": "two_sided",
    "advocate_reward": {"kind": "store_credit", "amount": "10.00"},
    "friend_reward": {"kind": "percent_discount", "percent": "15"},
    "hold_days": 30,
}
SAMPLE = json.loads(BODY_FILE.read_text())


@dataclass(frozen=True, slots=True)
class Mix:
    """What the inbox holds: bodies by delivery, and which orders carry a code."""

    deliveries: tuple[tuple[str, int, bytes], ...]  # (topic, order id, body)
    coded: frozenset[int]
    cancelled: frozenset[int]
    refunded: frozenset[int]


@dataclass
class Run:
    database: str
    workers: int
    events: int
    seconds: float
    check: str = ""
    fingerprint: str = ""
    per_worker: list[int] = field(default_factory=list)
    cores_busy: float = 0.0  # the whole machine's busy cores while draining (all processes)
    worker_cpu: float = 0.0  # CPU seconds the worker processes used while draining

    @property
    def worker_ms(self) -> float:
        """Worker CPU per event, ms."""
        return 1000 * self.worker_cpu / self.events

    @property
    def rest_ms(self) -> float:
        """The rest of the machine's CPU per event (PostgreSQL, mostly), ms."""
        return max(0.0, 1000 * self.cores_busy * self.seconds / self.events - self.worker_ms)

    @property
    def rate(self) -> float:
        return self.events / self.seconds


# --- the mix ---------------------------------------------------------------------------------


def order_body(order_id: int, *, code: str | None, cancelled: bool = False) -> bytes:
    """The docs sample made a distinct, live, paid order (own email, customer and IP)."""
    order: dict[str, Any] = copy.deepcopy(SAMPLE)
    email = f"buyer-{order_id}@example.com"
    order.update(
        id=order_id,
        name=f"#{order_id}",
        order_number=order_id,
        financial_status="voided" if cancelled else "paid",
        test=False,
        cancelled_at="2026-11-20T12:30:00Z" if cancelled else None,
        cancel_reason="customer" if cancelled else None,
        created_at="2026-11-20T11:00:00Z",
        updated_at="2026-11-20T12:30:00Z" if cancelled else "2026-11-20T12:00:00Z",
        email=email,
        contact_email=email,
        browser_ip=f"10.{order_id // 65536 % 256}.{order_id // 256 % 256}.{order_id % 256}",
        discount_codes=[{"code": code, "amount": "10.00", "type": "fixed_amount"}] if code else [],
        refunds=[],
        note_attributes=[],
        landing_site="/",
    )
    order["customer"] = {**order["customer"], "id": order_id, "email": email}
    return json.dumps(order).encode()


def refund_body(order_id: int, amount: str) -> bytes:
    refund = {
        "id": order_id + 1,
        "order_id": order_id,
        "created_at": "2026-11-21T10:00:00Z",
        "transactions": [{"kind": "refund", "status": "success", "amount": amount}],
    }
    return json.dumps(refund).encode()


def build_mix(orders: int, codes: list[str], args: argparse.Namespace) -> Mix:
    """`orders` paid orders; then refunds and cancellations of a few of them, as later
    deliveries (the inbox is drained oldest first)."""
    rng = random.Random(args.seed)
    first = 5_000_000_000
    ids = [first + 10 * n for n in range(orders)]
    coded = {i for i in ids if rng.random() < args.referral_share}
    refunded = {i for i in ids if rng.random() < args.refund_share}
    cancelled = {i for i in ids if rng.random() < args.cancel_share} - refunded
    code_of = {i: rng.choice(codes) for i in sorted(coded)}
    paid = [("orders/paid", i, order_body(i, code=code_of.get(i))) for i in ids]
    later = [("refunds/create", i, refund_body(i, "20.00")) for i in sorted(refunded)]
    later += [
        ("orders/cancelled", i, order_body(i, code=code_of.get(i), cancelled=True))
        for i in sorted(cancelled)
    ]
    return Mix(tuple(paid + later), frozenset(coded), frozenset(cancelled), frozenset(refunded))


def shopify_headers(body: bytes, topic: str, event_id: str, secret: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": SHOP_DOMAIN,
        "X-Shopify-Hmac-Sha256": sign_body(body, secret),
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Webhook-Id": f"wh-{event_id}",
        "X-Shopify-Triggered-At": "2026-11-20T12:00:00.000000Z",
        "X-Shopify-API-Version": "2026-01",
    }


# --- setting up a run ------------------------------------------------------------------------


def setup_run(url: str, args: argparse.Namespace, tmp: Path) -> Mix:
    """Reset + migrate, the shop, program and advocates, then the inbox; returns the mix."""
    shop_id = prepare_database(url)
    settings = bench_settings(url, tmp)
    services = build_services(settings)
    now = datetime.now(tz=UTC) - timedelta(seconds=5)
    try:
        with services.sessions.begin() as session:
            program = create_program(session, shop_id, PROGRAM, now=now)
            codes = [
                enroll_advocate(
                    session,
                    shop_id,
                    program.id,
                    email=f"advocate-{n}@example.org",
                    first_name=f"Advocate{n}",
                    now=now,
                ).code
                for n in range(args.advocates)
            ]
        mix = build_mix(args.orders, codes, args)
        fill_inbox(services, shop_id, mix, settings.shopify_api_secret or "", now)
    finally:
        services.engine.dispose()
    return mix


def fill_inbox(services: Any, shop_id: int, mix: Mix, secret: str, now: datetime) -> None:
    started = time.monotonic()
    chunk = 500
    for start in range(0, len(mix.deliveries), chunk):
        with services.sessions.begin() as session:
            for n, (topic, _order_id, body) in enumerate(mix.deliveries[start : start + chunk]):
                event_id = f"bench-{start + n}"
                store_delivery(
                    session,
                    platform=Platform.SHOPIFY,
                    shop_id=shop_id,
                    topic=topic,
                    dedup_key=f"{topic}:{event_id}",
                    webhook_id=f"wh-{event_id}",
                    headers=shopify_headers(body, topic, event_id, secret),
                    body=body,
                    now=now,
                )
    log(f"  inbox filled: {len(mix.deliveries):,} deliveries in {time.monotonic() - started:.1f} s")


# --- the workers -----------------------------------------------------------------------------


def worker_main(url: str, instance: str, name: str, go: Any, results: Any) -> None:
    """One worker process: build the services, wait for the signal, drain until nothing is
    left to claim, report (name, deliveries processed, CPU seconds used meanwhile)."""
    services = build_services(bench_settings(url, Path(instance)))
    tune_garbage_collection()  # as `referral-plugin worker` does once started
    with services.sessions.begin() as session:  # connect before the clock starts
        session.execute(select(1))
    stop = threading.Event()
    go.wait()
    cpu_before = process_cpu()
    handled = 0
    try:
        while True:
            done = drain_inbox(
                services,
                worker=name,
                stop=stop,
                clock=lambda: datetime.now(tz=UTC),
                connectors=CONNECTORS,
            )
            handled += done
            if done == 0:
                break
    finally:
        services.engine.dispose()
        results.put((name, handled, process_cpu() - cpu_before))


def process_cpu() -> float:
    """This process's CPU seconds. Read by the worker itself: once it has ended, its /proc
    entry (what `ingest.process_cpu_seconds` reads) is gone."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_workers(
    url: str, workers: int, tmp: Path, total: int, title: str
) -> tuple[float, list, float, float]:
    """Start `workers` processes, time them from the start signal until all have ended;
    returns (seconds, processed per worker, busy cores of the machine meanwhile, CPU seconds
    the workers used)."""
    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    processes = [
        context.Process(target=worker_main, args=(url, str(tmp), f"bench-{n}", go, results))
        for n in range(workers)
    ]
    for process in processes:
        process.start()
    time.sleep(2.0 + workers)  # imports and first connection, outside the measured time
    monitor = build_services(bench_settings(url, tmp))
    started = time.monotonic()
    cpu_before = machine_cpu()
    go.set()
    next_tick = started + 2
    try:
        while any(p.is_alive() for p in processes):
            time.sleep(0.05)
            if time.monotonic() >= next_tick:
                next_tick += 2
                done = count_done(monitor)
                elapsed = time.monotonic() - started
                log(f"  {title}: {done:,}/{total:,} done, {elapsed:.0f} s")
        elapsed = time.monotonic() - started
        cpu_after = machine_cpu()
    finally:
        monitor.engine.dispose()
    reports = [results.get(timeout=10) for _ in processes]
    per_worker = sorted(handled for _, handled, _ in reports)
    worker_cpu = sum(cpu for _, _, cpu in reports)
    for process in processes:
        process.join()
    busy, total_jiffies = (
        after - before for after, before in zip(cpu_after, cpu_before, strict=True)
    )
    cores = (os.cpu_count() or 1) * busy / max(total_jiffies, 1)
    return elapsed, per_worker, cores, worker_cpu


def count_done(services: Any) -> int:
    with services.sessions.begin() as session:
        return session.scalar(
            select(func.count()).where(WebhookDelivery.status == "done")  # type: ignore[arg-type]
        )


# --- checking a run --------------------------------------------------------------------------


def check_run(url: str, mix: Mix, tmp: Path) -> tuple[str, str]:
    """Verify the effects of a drained inbox; returns (verdict, fingerprint of the outcomes)."""
    services = build_services(bench_settings(url, tmp))
    try:
        with services.sessions.begin() as session:
            problems, fingerprint = _check(session, mix)
    finally:
        services.engine.dispose()
    deliveries = len(mix.deliveries)
    orders = len({order_id for _, order_id, _ in mix.deliveries})
    summary = (
        f"{deliveries:,} deliveries, {orders:,} orders, {len(mix.coded)} with a code, "
        f"{len(mix.refunded)} refunded, {len(mix.cancelled)} cancelled"
    )
    return ("FAIL: " + "; ".join(problems) if problems else "OK: " + summary), fingerprint


def _check(session: Any, mix: Mix) -> tuple[list[str], str]:
    problems = []
    statuses = Counter(dict(session.execute(
        select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    ).all()))  # fmt: skip
    if set(statuses) != {"done"} or statuses["done"] != len(mix.deliveries):
        problems.append(f"deliveries not all done: {dict(statuses)}")
    events = session.scalar(select(func.count()).select_from(OrderEventRecord))
    if events != len(mix.deliveries):
        problems.append(f"{events} order events for {len(mix.deliveries)} deliveries")
    conversions = dict(session.execute(select(Conversion.id, Conversion.order_id)).all())
    orders = {str(order_id) for _, order_id, _ in mix.deliveries}
    if sorted(conversions.values()) != sorted(orders):
        problems.append(f"{len(conversions)} conversions for {len(orders)} orders")
    referred = {conversions[c] for c in session.scalars(select(Referral.conversion_id))}
    if referred != {str(i) for i in mix.coded}:
        problems.append(f"{len(referred)} referrals for {len(mix.coded)} orders with a code")
    rewards = session.execute(
        select(
            Reward.conversion_id, Reward.beneficiary, Reward.rule_key, Reward.status, Reward.value
        )
    ).all()
    if {conversions[r[0]] for r in rewards} - referred:
        problems.append("rewards on orders that carry no referral")
    twice = Counter(r[:3] for r in rewards) - Counter({r[:3] for r in rewards})
    if twice:
        problems.append(f"{sum(twice.values())} rewards issued twice")
    return problems, _fingerprint(session, conversions, rewards)


def _fingerprint(session: Any, conversions: dict, rewards: list) -> str:
    """A hash of every order's outcome and state, its referral and its rewards."""
    orders = session.execute(
        select(
            Conversion.order_id,
            Conversion.outcome,
            Conversion.paid,
            Conversion.cancelled,
            Conversion.refunded_total,
        )
    ).all()
    referrals = dict(session.execute(select(Referral.conversion_id, Referral.status)).all())
    lines = sorted(":".join(map(str, row)) for row in orders)
    lines += sorted(f"{conversions[c]}:referral:{s}" for c, s in referrals.items())
    lines += sorted(":".join(map(str, (conversions[r[0]], *r[1:]))) for r in rewards)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]


# --- the report ------------------------------------------------------------------------------


def bench_database(database: str, url: str, args: argparse.Namespace, tmp: Path) -> list[Run]:
    counts = [1] if database == "sqlite" else args.workers
    runs = []
    for workers in counts:
        title = f"{database}/{workers} worker{'s' if workers > 1 else ''}"
        log(f"{title}: resetting the database and filling the inbox ({args.orders:,} orders)")
        mix = setup_run(url, args, tmp)
        log(f"{title}: draining")
        seconds, per_worker, cores, cpu = run_workers(url, workers, tmp, len(mix.deliveries), title)
        run = Run(
            database,
            workers,
            len(mix.deliveries),
            seconds,
            per_worker=per_worker,
            cores_busy=cores,
            worker_cpu=cpu,
        )
        log(f"{title}: {run.rate:,.0f} events/s ({seconds:.1f} s); checking")
        run.check, run.fingerprint = check_run(url, mix, tmp)
        log(f"{title}: {run.check}")
        runs.append(run)
    return runs


def print_report(args: argparse.Namespace, runs: list[Run]) -> None:
    print()
    print(
        f"process bench {datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores; "
        f"{args.orders:,} orders, {args.referral_share:.0%} with a code, {args.advocates} "
        f"advocates; batch size {bench_settings('sqlite://', Path()).inbox_batch_size}"
    )
    header = f"{'database':<10} {'workers':>7} {'events':>7} {'seconds':>8} {'events/s':>9}"
    header += f" {'x one':>6}  {'per worker':<14} {'cores busy':>10} {'CPU ms/event':>19}"
    header += f" {'outcomes':<12} check"
    print(header)
    print("-" * len(header))
    one = {r.database: r.rate for r in runs if r.workers == 1}
    for r in runs:
        ratio = r.rate / one[r.database] if r.database in one else float("nan")
        print(
            f"{r.database:<10} {r.workers:>7} {r.events:>7,} {r.seconds:>8.1f} {r.rate:>9,.0f} "
            f"{ratio:>6.2f}  {'/'.join(map(str, r.per_worker)):<14} {r.cores_busy:>10.2f} "
            f"{f'{r.worker_ms:.2f} + {r.rest_ms:.2f}':>19} {r.fingerprint:<12} "
            f"{r.check.split(':')[0]}"
        )
    print()
    for r in runs:
        print(f"{r.database}/{r.workers}: {r.check}")
    if len({r.fingerprint for r in runs}) > 1:
        print("FAIL: the outcomes differ between runs (see the fingerprints)")
    print("SQLite: one worker only (a single writer: BEGIN IMMEDIATE serializes transactions)")
    print_ceilings(runs)
    postgres = [r for r in runs if r.database == "postgres"]
    if postgres and "postgres" in one:
        best = max(r.rate for r in postgres if r.workers == 1)
        met = "met" if best >= ONE_WORKER_TARGET else "NOT met"
        print(f"target: one worker >= {ONE_WORKER_TARGET:,.0f} events/s on PostgreSQL: {met}")
        for r in postgres:
            if r.workers == 2:
                ratio = r.rate / one["postgres"]
                met = "met" if ratio >= SCALING_TARGET else "NOT met"
                print(f"target: two workers >= {SCALING_TARGET}x one: {ratio:.2f} ({met})")


def print_ceilings(runs: list[Run]) -> None:
    """What the CPU measured allows on this machine, from each one-worker run: a worker does
    its part of every event in turn, so it cannot pass 1000 / (its ms per event) events/s
    even if the database cost nothing; nor can all workers together pass cores x 1000 /
    (worker + rest ms per event), with every core busy."""
    cores = os.cpu_count() or 1
    print(
        "CPU ms/event: the workers' own CPU + the rest of the machine's (PostgreSQL, mostly) "
        "per event"
    )
    for r in runs:
        if r.workers != 1 or not r.worker_cpu:
            continue
        total = r.worker_ms + r.rest_ms
        line = (
            f"ceiling {r.database}: one worker <= {1000 / r.worker_ms:,.0f} events/s (its own CPU)"
        )
        if r.database == "postgres":  # SQLite runs inside the worker, and only one
            line += (
                f"; any number of workers <= {cores * 1000 / total:,.0f} events/s "
                f"({cores} cores, {total:.2f} ms per event)"
            )
        print(line)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_POSTGRES_URL,
        help="a PostgreSQL database the bench may wipe (env BENCH_DATABASE_URL)",
    )
    parser.add_argument("--orders", type=int, default=3000, help="paid orders per run")
    parser.add_argument("--workers", default="1,2", help="PostgreSQL worker counts to run")
    parser.add_argument("--advocates", type=int, default=200)
    parser.add_argument("--referral-share", type=float, default=0.10)
    parser.add_argument("--refund-share", type=float, default=0.03)
    parser.add_argument("--cancel-share", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    if not 10 <= args.orders <= 200_000 or not 1 <= args.advocates <= 10_000:
        parser.error("--orders must be 10..200000 and --advocates 1..10000")
    args.workers = [int(w) for w in args.workers.split(",") if w.strip()]
    if not args.workers or not all(1 <= w <= 8 for w in args.workers):
        parser.error("--workers takes counts 1..8, e.g. 1,2")
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not set(args.databases) <= {"sqlite", "postgres"} or not args.databases:
        parser.error("--databases takes sqlite, postgres or both")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-process-") as tmp_name:
        tmp = Path(tmp_name)
        for database in args.databases:
            url = f"sqlite:///{tmp / 'bench.db'}" if database == "sqlite" else args.postgres_url
            if database == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{tmp / 'bench.db'}{suffix}").unlink(missing_ok=True)
            runs += bench_database(database, url, args, tmp)
    print_report(args, runs)
    return 0 if all(r.check.startswith("OK") for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
