"""Merchant analytics at scale: one shop with 1,000,000 orders and 100,000 referrals.

    BENCH_DATABASE_URL=postgresql+psycopg://referral:referral@127.0.0.1:5432/referral_h3b \
        /work/venv/bin/python bench/analytics.py              # build the data set, then time
    /work/venv/bin/python bench/analytics.py --reuse          # time only (data set already there)

Target (issue 7): the analytics of a shop with 1,000,000 orders and 100,000 referrals answer
in under a second on PostgreSQL. The bench resets and migrates the database, creates one shop
with two programs (an evergreen two-sided one and a summer campaign with a start and an end),
and loads ~2 years of data with COPY: advocates and their codes, orders (`conversions`: repeat
customers, ~4 % refunded in part or in full, cancelled, test and unpaid ones, a few without an
email), referrals with their rewards (held, issued, redeemed, expired, reversed), link clicks,
friend claims and friends invited by email. Then each figure query of `services.analytics`
runs for a year and for the year before, for all programs and for each program, `--repeat`
times, and so does the whole answer (`shop_analytics`: both periods and the chart series) as
the API builds it. The rollup's customers are checked against a count from the raw orders.
Each line prints the median and the fastest run; the last line is `slowest: <seconds> s`, the
slowest median. Timings are printed, never asserted. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import bisect
import functools
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from ingest import (  # noqa: E402 - ingest puts the repository on sys.path
    DEFAULT_POSTGRES_URL,
    SHOP_DOMAIN,
    bench_settings,
    log,
    prepare_database,
)
from sqlalchemy import Engine, String, cast, distinct, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from referral_plugin.app import build_services  # noqa: E402
from referral_plugin.db import make_engine  # noqa: E402
from referral_plugin.models import Conversion, Shop  # noqa: E402
from referral_plugin.models import Program as ProgramRow  # noqa: E402
from referral_plugin.services.analytics import (  # noqa: E402
    FIGURE_QUERIES,
    DayRange,
    shop_analytics,
)
from referral_plugin.services.analytics_queries import (  # noqa: E402
    Scope,
    counted_order,
    customer_figures,
)
from referral_plugin.services.analytics_series import activity_series  # noqa: E402
from referral_plugin.services.programs import create_program  # noqa: E402

NOW = datetime(2026, 11, 1, tzinfo=UTC)  # the bench's "today": data covers the 2 years before
DAYS = 730
TARGET_SECONDS = 1.0
CAMPAIGN = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC))
EVERGREEN = {
    "name": "Give 15%, get 10",
    "kind": "two_sided",
    "advocate_reward": {"kind": "store_credit", "amount": "10.00"},
    "friend_reward": {"kind": "percent_discount", "percent": "15"},
    "hold_days": 30,
}
SUMMER = {
    "name": "Summer campaign",
    "kind": "one_sided",
    "advocate_reward": {"kind": "fixed_discount", "amount": "10.00"},
    "hold_days": 30,
    "conditions": {"starts_at": CAMPAIGN[0].isoformat(), "ends_at": CAMPAIGN[1].isoformat()},
}
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    customer: int
    paid_at: datetime  # placed and, unless unpaid, paid
    total: Decimal
    paid: bool
    cancelled: bool
    is_test: bool
    refunded: Decimal


@dataclass(frozen=True, slots=True)
class Advocates:
    """Advocate ids and creation times per program, sorted by time."""

    ids: dict[int, list[int]]
    created: dict[int, list[datetime]]


# --- generating the data set -----------------------------------------------------------------


def moment(rng: random.Random, start: datetime = NOW - timedelta(days=DAYS)) -> datetime:
    span = (NOW - start).total_seconds()
    return (start + timedelta(seconds=rng.random() * span)).replace(microsecond=0)


def make_orders(rng: random.Random, count: int) -> list[Order]:
    """`count` orders by customers who come back (geometric order counts), sorted by time."""
    drafts: list[tuple[datetime, int]] = []
    customer = 0
    while len(drafts) < count:
        customer += 1
        at = moment(rng)
        while len(drafts) < count and at < NOW:
            drafts.append((at, customer))
            if rng.random() < 0.55:
                break
            at += timedelta(days=rng.expovariate(1 / 90), seconds=rng.randrange(86400))
    drafts.sort()
    return [make_order(rng, i, who, at) for i, (at, who) in enumerate(drafts, start=1)]


def make_order(rng: random.Random, order_id: int, customer: int, at: datetime) -> Order:
    """2 % unpaid, 1 % cancelled, 0.5 % test; 4 % of paid orders refunded, half in full."""
    total = Decimal(rng.lognormvariate(4.2, 0.6)).quantize(CENT) + 1
    roll = rng.random()
    paid = roll >= 0.02
    refunded = Decimal(0)
    if paid and rng.random() < 0.04:
        refunded = total if rng.random() < 0.5 else (total / 3).quantize(CENT)
    return Order(
        order_id, customer, at, total, paid, 0.02 <= roll < 0.03, 0.03 <= roll < 0.035, refunded
    )


def make_advocates(rng: random.Random, programs: list[int], count: int) -> Advocates:
    """Three quarters in the evergreen program over 2 years, the rest during the campaign."""
    evergreen = sorted(moment(rng) for _ in range(count * 3 // 4))
    summer_span = (CAMPAIGN[1] - CAMPAIGN[0]).total_seconds()
    summer = sorted(
        CAMPAIGN[0] + timedelta(seconds=rng.random() * summer_span)
        for _ in range(count - len(evergreen))
    )
    ids = {programs[0]: list(range(1, len(evergreen) + 1))}
    ids[programs[1]] = list(range(len(evergreen) + 1, count + 1))
    return Advocates(ids=ids, created={programs[0]: evergreen, programs[1]: summer})


def pick_advocate(
    rng: random.Random, advocates: Advocates, programs: list[int], at: datetime
) -> tuple[int, int] | None:
    """(program, advocate) for a referred order at `at`: an advocate enrolled before it."""
    program = programs[1] if CAMPAIGN[0] <= at < CAMPAIGN[1] and rng.random() < 0.5 else programs[0]
    enrolled = bisect.bisect_left(advocates.created[program], at)
    if enrolled == 0:
        return None
    # A few advocates refer a lot: the square skews picks towards the earliest enrolled.
    return program, advocates.ids[program][int(enrolled * rng.random() ** 2)]


def attribute(
    rng: random.Random, orders: list[Order], advocates: Advocates, programs: list[int], count: int
) -> dict[int, tuple[int, int]]:
    """order id -> (program, advocate) for `count` live orders: 85 % customers' first orders,
    the rest repeat orders; each to an advocate enrolled before the order."""
    seen: set[int] = set()
    firsts, repeats = [], []
    for order in orders:
        if not order.is_test:
            (repeats if order.customer in seen else firsts).append(order)
        seen.add(order.customer)
    rng.shuffle(firsts)
    rng.shuffle(repeats)
    attributed: dict[int, tuple[int, int]] = {}
    for pool, wanted in ((firsts, count * 85 // 100), (repeats, count)):
        for order in pool:
            if len(attributed) >= wanted:
                break
            picked = pick_advocate(rng, advocates, programs, order.paid_at)
            if picked is not None:
                attributed[order.id] = picked
    return attributed


# --- rows for COPY -----------------------------------------------------------------------------

ADVOCATE_COLUMNS = (
    "id, shop_id, program_id, email, identity_email, status, currency, balance, points, debt, "
    "successful_referrals, created_at"
)
CODE_COLUMNS = "id, shop_id, program_id, advocate_id, kind, code, normalized, created_at"
CONVERSION_COLUMNS = (
    "id, shop_id, order_id, order_number, customer_id, email, identity_email, currency, "
    "subtotal, total, refunded_total, paid, paid_at, cancelled, is_test, method, advocate_id, "
    "program_id, code, outcome, reasons, fraud, signals, decided_at, updated_at"
)
REFERRAL_COLUMNS = (
    "id, shop_id, program_id, advocate_id, conversion_id, status, method, code, reasons, "
    "created_at, updated_at"
)
REWARD_COLUMNS = (
    "id, shop_id, program_id, referral_id, conversion_id, advocate_id, beneficiary, rule_key, "
    "kind, status, value, nominal_value, currency, debt_offset, spec, hold_until, approved_at, "
    "issued_at, redeemed_at, expires_at, reversed_at, revoke_state, store_attempts, created_at, "
    "updated_at"
)
CLICK_COLUMNS = "id, shop_id, code_id, created_at"
CLAIM_COLUMNS = "id, shop_id, program_id, advocate_id, identity_email, code_id, claimed_at"
INVITE_COLUMNS = "id, shop_id, advocate_id, friend_hash, created_at"


def advocate_rows(shop_id: int, advocates: Advocates) -> Iterator[tuple[Any, ...]]:
    for program, ids in advocates.ids.items():
        for advocate_id, created in zip(ids, advocates.created[program], strict=True):
            email = f"advocate-{advocate_id}@example.com"
            yield (
                advocate_id,
                shop_id,
                program,
                email,
                email,
                "active",
                "USD",
                0,
                0,
                0,
                0,
                created,
            )


def code_rows(shop_id: int, advocates: Advocates) -> Iterator[tuple[Any, ...]]:
    for program, ids in advocates.ids.items():
        for advocate_id, created in zip(ids, advocates.created[program], strict=True):
            code = f"FRIEND{advocate_id}"
            yield (advocate_id, shop_id, program, advocate_id, "advocate", code, code, created)


def customer_email(customer: int) -> str | None:
    """Most customers have an email; 1 in 100 only a customer id, 1 in 500 neither."""
    return None if customer % 100 == 7 or customer % 500 == 9 else f"buyer-{customer}@example.com"


def conversion_rows(
    shop_id: int, orders: list[Order], attributed: dict[int, tuple[int, int]]
) -> Iterator[tuple[Any, ...]]:
    for o in orders:
        email = customer_email(o.customer)
        customer_id = None if o.customer % 500 == 9 else str(o.customer)
        program, advocate = attributed.get(o.id, (None, None))
        code = None if advocate is None else f"FRIEND{advocate}"
        yield (
            o.id, shop_id, str(o.id), f"#{o.id}", customer_id, email, email, "USD", o.total,
            o.total, o.refunded, o.paid, o.paid_at if o.paid else None, o.cancelled, o.is_test,
            code and "code", advocate, program, code,
            "not_referral" if code is None else "accepted", "[]", "[]", "{}", o.paid_at,
            o.paid_at,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Referred:
    """What the referral, its rewards and a friend's claim are built from."""

    referral_id: int
    order: Order
    program: int
    advocate: int
    status: str


def reward_times(rng: random.Random, paid_at: datetime, status: str) -> dict[str, Any]:
    """Status and dates of one reward of a referral in `status`, at NOW."""
    hold_until = paid_at + timedelta(days=30)
    if status == "pending":
        return {"status": "pending"}
    if status in ("rejected", "reversed"):
        return {
            "status": "reversed",
            "hold_until": hold_until,
            "reversed_at": paid_at + timedelta(days=rng.randrange(1, 20)),
        }
    if status == "review" or hold_until > NOW:
        return {"status": "held", "hold_until": hold_until}
    issued = hold_until + timedelta(hours=1)
    times = {
        "hold_until": hold_until,
        "approved_at": hold_until,
        "issued_at": issued,
        "expires_at": issued + timedelta(days=90),
    }
    redeemed = issued + timedelta(days=rng.randrange(1, 80))
    if rng.random() < 0.6 and redeemed < NOW:
        return {**times, "status": "redeemed", "redeemed_at": redeemed}
    return {**times, "status": "expired" if times["expires_at"] < NOW else "issued"}  # fmt: skip


def referral_and_reward_rows(
    shop_id: int, referred: list[Referred], evergreen: int, seed: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    rng = random.Random(seed)
    referrals, rewards = [], []
    for r in referred:
        order = r.order
        code = f"FRIEND{r.advocate}"
        referrals.append((
            r.referral_id, shop_id, r.program, r.advocate, order.id, r.status, "code", code,
            "[]", order.paid_at, order.paid_at,
        ))  # fmt: skip
        kind = "store_credit" if r.program == evergreen else "fixed_discount"
        sides = [("advocate", r.advocate, kind, Decimal("10.00"))]
        if r.program == evergreen:
            friend_value = (order.total * Decimal("0.15")).quantize(CENT)
            sides.append(("friend", None, "percent_discount", friend_value))
        for beneficiary, advocate, kind, value in sides:
            t = reward_times(rng, order.paid_at, r.status)
            rewards.append((
                len(rewards) + 1, shop_id, r.program, r.referral_id, order.id, advocate,
                beneficiary, beneficiary, kind, t["status"], value, value, "USD", 0, "{}",
                t.get("hold_until"), t.get("approved_at"), t.get("issued_at"),
                t.get("redeemed_at"), t.get("expires_at"), t.get("reversed_at"), "none", 0,
                order.paid_at, order.paid_at,
            ))  # fmt: skip
    return referrals, rewards


def referral_status(rng: random.Random, order: Order) -> str:
    """What the order's flags make of its referral (a few rejected or under review)."""
    if order.cancelled or (order.paid and order.refunded == order.total):
        return "reversed"
    if not order.paid:
        return "pending"
    roll = rng.random()
    return "rejected" if roll < 0.03 else "review" if roll < 0.05 else "converted"


def click_rows(
    rng: random.Random, shop_id: int, advocates: Advocates, count: int
) -> Iterator[tuple[Any, ...]]:
    pairs = [
        (advocate_id, created)
        for program, ids in advocates.ids.items()
        for advocate_id, created in zip(ids, advocates.created[program], strict=True)
    ]
    for click_id in range(1, count + 1):
        advocate_id, created = pairs[int(len(pairs) * rng.random() ** 2)]
        yield (click_id, shop_id, advocate_id, moment(rng, created))


def claim_rows(
    rng: random.Random, shop_id: int, referred: list[Referred], count: int
) -> Iterator[tuple[Any, ...]]:
    """Friends who claimed: 70 % went on to their referred order, the rest never ordered."""
    converting = rng.sample(referred, min(len(referred), count * 7 // 10))
    seen: set[tuple[int, str]] = set()
    claim_id = 0
    for r in converting:
        email = customer_email(r.order.customer)
        if email is None or (r.program, email) in seen:
            continue
        seen.add((r.program, email))
        claim_id += 1
        claimed = r.order.paid_at - timedelta(hours=rng.randrange(1, 200))
        yield (claim_id, shop_id, r.program, r.advocate, email, r.advocate, claimed)
    for n in range(count - claim_id):
        r = rng.choice(referred)
        claimed = moment(rng, r.order.paid_at - timedelta(days=30))
        email = f"friend-{n}@example.com"
        yield (claim_id + n + 1, shop_id, r.program, r.advocate, email, r.advocate, claimed)


def invite_rows(
    rng: random.Random, shop_id: int, advocates: Advocates, count: int
) -> Iterator[tuple[Any, ...]]:
    """Friends invited by email (`friend_invites`), by advocates of both programs."""
    programs = list(advocates.ids)
    for invite_id in range(1, count + 1):
        program = rng.choice(programs)
        index = rng.randrange(len(advocates.ids[program]))
        at = moment(rng, advocates.created[program][index])
        yield (invite_id, shop_id, advocates.ids[program][index], f"{invite_id:064x}", at)


# --- loading -----------------------------------------------------------------------------------


def copy_rows(engine: Engine, table: str, columns: str, rows: Iterable[tuple[Any, ...]]) -> int:
    """COPY the rows into `table` through psycopg; logs progress; returns the count."""
    started, count = time.perf_counter(), 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for count, row in enumerate(rows, start=1):
                copy.write_row(row)
                if count % 200_000 == 0:
                    log(f"  {table}: {count:,} rows")
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - our names
            f"(SELECT coalesce(max(id), 1) FROM {table}))"
        )
        raw.commit()
    finally:
        raw.close()
    log(f"  {table}: {count:,} rows in {time.perf_counter() - started:.1f} s")
    return count


def build(engine: Engine, url: str, args: argparse.Namespace) -> int:
    """Reset the database and load the data set; returns the shop id."""
    log("resetting and migrating the database")
    shop_id = prepare_database(url)
    services = build_services(bench_settings(url, Path(tempfile.gettempdir())))
    with services.sessions.begin() as session:
        programs = [
            create_program(session, shop_id, config, now=NOW - timedelta(days=DAYS)).id
            for config in (EVERGREEN, SUMMER)
        ]
    services.engine.dispose()
    rng = random.Random(args.seed)
    log(f"generating {args.orders:,} orders")
    orders = make_orders(rng, args.orders)
    advocates = make_advocates(rng, programs, args.advocates)
    copy_rows(engine, "advocates", ADVOCATE_COLUMNS, advocate_rows(shop_id, advocates))
    copy_rows(engine, "codes", CODE_COLUMNS, code_rows(shop_id, advocates))
    attributed = attribute(rng, orders, advocates, programs, args.referrals)
    copy_rows(
        engine, "conversions", CONVERSION_COLUMNS,
        conversion_rows(shop_id, orders, attributed),
    )  # fmt: skip
    referred = referred_list(orders, attributed, rng)
    referrals, rewards = referral_and_reward_rows(shop_id, referred, programs[0], args.seed)
    copy_rows(engine, "referrals", REFERRAL_COLUMNS, referrals)
    copy_rows(engine, "rewards", REWARD_COLUMNS, rewards)
    copy_rows(engine, "clicks", CLICK_COLUMNS, click_rows(rng, shop_id, advocates, args.clicks))
    copy_rows(engine, "claims", CLAIM_COLUMNS, claim_rows(rng, shop_id, referred, args.claims))
    copy_rows(
        engine, "friend_invites", INVITE_COLUMNS,
        invite_rows(rng, shop_id, advocates, args.invites),
    )  # fmt: skip
    log("VACUUM ANALYZE")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return shop_id


def referred_list(
    orders: list[Order], attributed: dict[int, tuple[int, int]], rng: random.Random
) -> list[Referred]:
    """The referrals to write, each with the status its order's flags give it."""
    by_id = {order.id: order for order in orders if order.id in attributed}
    return [
        Referred(n, by_id[order_id], program, advocate, referral_status(rng, by_id[order_id]))
        for n, (order_id, (program, advocate)) in enumerate(sorted(attributed.items()), start=1)
    ]


# --- timing ------------------------------------------------------------------------------------

YEAR = DayRange(first=date(2025, 11, 1), last=date(2026, 10, 31))


def timed(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, fastest) seconds of `repeat` runs."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def time_queries(services: Any, shop_id: int, repeat: int) -> list[tuple[str, float, float]]:
    """Each figure query (the year, then the year before), the series and the whole answer,
    for all programs and for each program."""
    with services.sessions.begin() as session:
        currency = session.scalars(select(Shop.currency).where(Shop.id == shop_id)).one()
        programs = session.scalars(select(ProgramRow.id).where(ProgramRow.shop_id == shop_id))
        scopes = [None, *programs]
    year = YEAR.window
    results = []
    for program_id in scopes:
        scope = Scope(shop_id=shop_id, currency=currency, program_id=program_id)
        label = "all programs" if program_id is None else f"program {program_id}"
        runs: dict[str, Callable[[Session], object]] = {}
        for query in FIGURE_QUERIES:
            for period, window in (("year", year), ("year before", year.before())):
                runs[f"{query.__name__} ({period})"] = functools.partial(
                    query, scope=scope, window=window
                )
        runs["activity_series (year)"] = functools.partial(
            activity_series, scope=scope, window=year
        )
        runs["shop_analytics (whole answer)"] = functools.partial(
            shop_analytics, shop_id=shop_id, days=YEAR, program_id=program_id, today=NOW.date()
        )
        for name, query in runs.items():
            median, fastest = timed(lambda q=query: _in_transaction(services, q), repeat)
            results.append((f"{label:<13} {name}", median, fastest))
            print(f"{label:<13} {name:<40} median {median:6.3f} s   fastest {fastest:6.3f} s")
    return results


def _in_transaction(services: Any, query: Callable[[Session], object]) -> object:
    with services.sessions.begin() as session:
        return query(session)


def check_customers(services: Any, shop_id: int) -> str:
    """The rollup's customers and new customers of the year against the raw orders."""
    window = YEAR.window
    customer = func.coalesce(
        Conversion.identity_email,
        "customer-id:" + Conversion.customer_id,
        "order:" + cast(Conversion.id, String),
    )
    counted = (*counted_order(), Conversion.shop_id == shop_id)
    with services.sessions.begin() as session:
        raw_customers = session.scalar(
            select(func.count(distinct(customer))).where(*counted, window.holds(Conversion.paid_at))
        )
        firsts = (
            select(func.min(Conversion.paid_at).label("first")).where(*counted).group_by(customer)
        ).subquery()
        raw_new = session.scalar(select(func.count()).where(window.holds(firsts.c.first)))
        scope = Scope(shop_id=shop_id, currency="USD")
        ours = customer_figures(session, scope, window)
    same = (ours["customers"], ours["new_customers"]) == (raw_customers, raw_new)
    return (
        f"{'OK' if same else 'FAIL'}: customers {ours['customers']:,} (raw {raw_customers:,}), "
        f"new customers {ours['new_customers']:,} (raw {raw_new:,})"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_POSTGRES_URL,
        help="a PostgreSQL database the bench may wipe (env BENCH_DATABASE_URL)",
    )
    parser.add_argument("--reuse", action="store_true", help="time the data set already loaded")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--advocates", type=int, default=20_000)
    parser.add_argument("--clicks", type=int, default=600_000)
    parser.add_argument("--claims", type=int, default=50_000)
    parser.add_argument("--invites", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs per query")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if not 0 < args.referrals <= args.orders // 2 or args.repeat < 1:
        parser.error("need 0 < --referrals <= --orders / 2 and --repeat >= 1")
    return args


def data_set(engine: Engine, url: str, args: argparse.Namespace, *, reuse: bool) -> int:
    """The bench shop's id: the data set already loaded (`reuse`), else built now."""
    if not reuse:
        return build(engine, url, args)
    with engine.connect() as conn:
        return conn.scalar(select(Shop.id).where(Shop.domain == SHOP_DOMAIN))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = args.postgres_url
    if make_url(url).get_backend_name() != "postgresql":
        print("the analytics bench runs on PostgreSQL: pass --postgres-url", file=sys.stderr)
        return 2
    engine = make_engine(url)
    try:
        shop_id = data_set(engine, url, args, reuse=args.reuse)
        with engine.connect() as conn:
            sizes = {
                table: conn.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
                for table in ("conversions", "referrals", "rewards", "clicks", "claims")
            }
    finally:
        engine.dispose()
    services = build_services(bench_settings(url, Path(tempfile.gettempdir())))
    try:
        print("data set: " + ", ".join(f"{table} {n:,}" for table, n in sizes.items()))
        print(f"range: {YEAR.first} to {YEAR.last} and the year before; load average before: "
              f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")  # fmt: skip
        log("checking the rollup against the raw orders")
        print(f"check: {check_customers(services, shop_id)}")
        log(f"timing each query {args.repeat} times")
        results = time_queries(services, shop_id, args.repeat)
    finally:
        services.engine.dispose()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    slowest = max(results, key=lambda result: result[1])
    print(f"slowest query: {slowest[0].strip()} (target: under {TARGET_SECONDS:.1f} s)")
    print(f"slowest: {slowest[1]:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
