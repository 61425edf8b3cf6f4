"""The worker's commands for `referral-plugin`: `deliveries replay|list`, `friend-codes retry`
and `status`.

Handlers take (args, settings) like the rest of `referral_plugin.cli` and print one line
`error: ...` with exit status 2 for a mistake the user can fix.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from referral_plugin.app import build_services, prepare_development_database
from referral_plugin.models import DeliveryStatus
from referral_plugin.services import friend_codes, inbox_admin, job_runs, rewards
from referral_plugin.settings import Settings

USAGE_ERROR = 2
MAX_LIST_LIMIT = 1000
ERROR_WIDTH = 70


def add_worker_parsers(commands: Any) -> None:
    """Add `deliveries` and `status` to the command's subparsers."""
    deliveries = commands.add_parser("deliveries", help="the webhook inbox").add_subparsers(
        dest="deliveries_command", required=True, metavar="SUBCOMMAND"
    )
    replay = deliveries.add_parser("replay", help="queue failed, dead (or done) deliveries again")
    replay.add_argument("--id", type=int, action="append", dest="ids", metavar="N", default=[])
    replay.add_argument("--failed", action="store_true", help="every failed and dead delivery")
    replay.set_defaults(handler=replay_command)

    listing = deliveries.add_parser("list", help="the newest deliveries, newest first")
    listing.add_argument("--status", choices=[status.value for status in DeliveryStatus])
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=list_command)

    codes = commands.add_parser("friend-codes", help="referral codes in the stores")
    retry = codes.add_subparsers(dest="codes_command", required=True, metavar="SUBCOMMAND")
    retry_codes = retry.add_parser("retry", help="push codes that failed for good again")
    retry_codes.add_argument("--shop", type=int, dest="shop_id", help="only this shop's codes")
    retry_codes.set_defaults(handler=retry_codes_command)

    status = commands.add_parser(
        "status", help="inbox depth, dead letters, rewards due, friend codes, jobs"
    )
    status.set_defaults(handler=status_command)


def replay_command(args: argparse.Namespace, settings: Settings) -> int:
    if bool(args.ids) == bool(args.failed):
        return usage_error("pass --id N (repeatable) or --failed, not both")
    with transaction(settings) as session:
        count = inbox_admin.replay_deliveries(
            session, ids=args.ids or None, failed=args.failed, now=utc_now()
        )
    if args.ids and count == 0:
        return usage_error(
            "no delivery replayed: only failed, dead or done deliveries can be replayed "
            "(see `referral-plugin deliveries list`)"
        )
    asked = f" of {len(set(args.ids))}" if args.ids else ""
    print(f"Queued {count}{asked} deliveries for replay; the worker processes them next.")
    return 0


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    if not 0 < args.limit <= MAX_LIST_LIMIT:
        return usage_error(f"--limit must be between 1 and {MAX_LIST_LIMIT}")
    status = DeliveryStatus(args.status) if args.status else None
    with transaction(settings) as session:
        rows = inbox_admin.list_deliveries(session, status=status, limit=args.limit)
    if not rows:
        print("No deliveries" + (f" with status {status}." if status else "."))
        return 0
    print(f"{'ID':>6}  {'SHOP':<32} {'TOPIC':<24} {'STATUS':<10} {'ATTEMPTS':>8}  LAST ERROR")
    for row in rows:
        error = (row.last_error or "")[:ERROR_WIDTH]
        print(
            f"{row.id:>6}  {row.shop:<32} {row.topic:<24} {row.status!s:<10} "
            f"{row.attempts:>8}  {error}"
        )
    return 0


def retry_codes_command(args: argparse.Namespace, settings: Settings) -> int:
    """Codes the store refused for good (e.g. TAKEN: the merchant has since freed the code)
    due again: advocates' codes and friends' claimed codes."""
    with transaction(settings) as session:
        count = friend_codes.retry_failed_codes(session, now=utc_now(), shop_id=args.shop_id)
    print(f"{count} code(s) due again; the worker pushes them on its next run.")
    return 0


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    now = utc_now()
    with transaction(settings) as session:
        stats = inbox_admin.inbox_stats(session, now=now)
        due = rewards.count_rewards_due_for_issue(session)
        codes = friend_codes.friend_code_counts(session)
        runs = job_runs.last_job_runs(session)
    print("Inbox:")
    for status, count in stats.by_status.items():
        note = f"  ({stats.parked} waiting for a replay)" if status is DeliveryStatus.FAILED else ""
        print(f"  {status!s:<11} {count:>8}{note}")
    print(f"Oldest waiting delivery: {age(stats.oldest_pending_age) or 'none'}")
    print(f"Dead letters: {stats.dead_letters}")
    print(f"Rewards due for issue: {due}")
    print(f"Codes to put in stores: {codes.pending} pending, {codes.failed} failed")
    if not runs:
        print("Jobs: no run recorded yet (start one with `referral-plugin worker`).")
        return 0
    print("Jobs (last run):")
    for run in runs:
        when = run.last_finished_at or run.last_started_at
        ago = f"{age(now - when)} ago" if when else "never"
        handled = "" if run.last_count is None else f", {run.last_count} handled"
        error = f", error: {run.last_error[:ERROR_WIDTH]}" if run.last_error else ""
        print(f"  {run.name:<22} {run.last_status or '-':<8} {ago}{handled} by {run.worker}{error}")
    return 0


@contextmanager
def transaction(settings: Settings) -> Iterator[Session]:
    """One transaction on the settings' database (development SQLite migrated first)."""
    prepare_development_database(settings)
    services = build_services(settings)
    try:
        with services.sessions.begin() as session:
            yield session
    finally:
        services.engine.dispose()


def age(delta: timedelta | None) -> str | None:
    """`45s`, `12m`, `3h`, `2d`: the largest whole unit."""
    if delta is None:
        return None
    seconds = max(int(delta.total_seconds()), 0)
    units: list[tuple[int, str]] = [(86400, "d"), (3600, "h"), (60, "m")]
    for size, unit in units:
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def usage_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return USAGE_ERROR


def utc_now() -> datetime:
    return datetime.now(tz=UTC)
