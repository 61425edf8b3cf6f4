"""Segments at scale: the analytics bench's shop (1,000,000 orders, ~600,000 customers).

    BENCH_DATABASE_URL=postgresql+psycopg://referral:referral@127.0.0.1:5432/referral_bench \
        /work/venv/bin/python bench/segments.py            # build the data set, then time
    /work/venv/bin/python bench/segments.py --reuse        # time only (data set already there)

Builds the data set with `bench/analytics.py`'s builder (or reuses it), marks --unsubscribed
of its customers unsubscribed (keyed hashes, as the unsubscribe link does), then times, for
each segment of the evergreen program, the first page and the page after it
(`services.segments.segment_page`, 50 customers, total included) `--repeat` times, with and
without the unsubscribes, and prints the plan of the first page's statement (EXPLAIN ANALYZE),
which should read the customers from `ix_conversions_shop_id_identity_email` alone ("Index
Only Scan", no heap fetches after VACUUM). Timings are printed, never asserted; the load
average says how busy the machine was.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import analytics  # noqa: E402 - the data set's builder; puts the repository on sys.path
from ingest import DEFAULT_POSTGRES_URL, bench_settings, log  # noqa: E402
from sqlalchemy import delete, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from referral_plugin.app import build_services  # noqa: E402
from referral_plugin.db import make_engine  # noqa: E402
from referral_plugin.email_links import email_hash_key  # noqa: E402
from referral_plugin.models.shopper_emails import EmailUnsubscribe  # noqa: E402
from referral_plugin.services import segments  # noqa: E402
from referral_plugin.services.email_unsubscribes import recipient_hash  # noqa: E402
from referral_plugin.services.segments import SegmentName, SegmentQuery  # noqa: E402

NOW = analytics.NOW
PROGRAM = 1  # the evergreen program of the analytics bench


def unsubscribe_some(services: Any, shop_id: int, count: int) -> None:
    """Exactly `count` of the bench's customers (buyer-1, buyer-101, ...) unsubscribed."""
    key = email_hash_key(services.settings.secret_key)
    rows = [
        {"shop_id": shop_id, "email_hash": recipient_hash(key, shop_id, f"buyer-{n}@example.com"),
         "created_at": NOW}
        for n in range(1, count * 100, 100)
    ]  # fmt: skip
    with services.sessions.begin() as session:
        session.execute(delete(EmailUnsubscribe).where(EmailUnsubscribe.shop_id == shop_id))
        if rows:
            session.execute(EmailUnsubscribe.__table__.insert(), rows)


def time_pages(services: Any, shop_id: int, repeat: int, label: str) -> list[tuple[str, float]]:
    key = email_hash_key(services.settings.secret_key)
    results = []
    for name in SegmentName:
        query = SegmentQuery(segment=name)

        def page(cursor: str | None = None, query: SegmentQuery = query) -> Any:
            with services.sessions.begin() as session:
                return segments.segment_page(
                    session, shop_id, PROGRAM, query, email_key=key, now=NOW, cursor=cursor
                )

        first = page()
        median, fastest = analytics.timed(page, repeat)
        after, _ = analytics.timed(lambda p=page, c=first.next_cursor: p(c), repeat)
        results.append((f"{label} {name}", median))
        print(
            f"{label:<18} {name:<18} total {first.total:>7,}   first page median {median:6.3f} s"
            f" (fastest {fastest:6.3f} s)   next page median {after:6.3f} s"
        )
    return results


def explain_first_page(services: Any, shop_id: int) -> None:
    with services.sessions.begin() as session:
        segment = segments.resolve_segment(
            session, shop_id, PROGRAM, SegmentQuery(segment=SegmentName.REPEAT_BUYERS), now=NOW
        )
        statement = segments.page_query(segment, None, 51)
        sql = str(statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
        for (line,) in session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")):
            print(f"  {line}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres-url", default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_POSTGRES_URL
    )
    parser.add_argument("--reuse", action="store_true", help="time the data set already loaded")
    parser.add_argument("--unsubscribed", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per page")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = args.postgres_url
    if make_url(url).get_backend_name() != "postgresql":
        print("the segments bench runs on PostgreSQL: pass --postgres-url", file=sys.stderr)
        return 2
    engine = make_engine(url)
    try:
        built = analytics.parse_args(["--postgres-url", url])  # the analytics bench's sizes
        shop_id = analytics.data_set(engine, url, built, reuse=args.reuse)
    finally:
        engine.dispose()
    services = build_services(bench_settings(url, Path(tempfile.gettempdir())))
    try:
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        unsubscribe_some(services, shop_id, 0)
        results = time_pages(services, shop_id, args.repeat, "no unsubscribes")
        log(f"unsubscribing {args.unsubscribed:,} customers")
        unsubscribe_some(services, shop_id, args.unsubscribed)
        results += time_pages(services, shop_id, args.repeat, f"{args.unsubscribed} unsubscribed")
        print("plan of the first page of repeat_buyers:")
        explain_first_page(services, shop_id)
    finally:
        services.engine.dispose()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    slowest = max(results, key=lambda result: result[1])
    print(f"slowest: {slowest[1]:.3f} s ({slowest[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
