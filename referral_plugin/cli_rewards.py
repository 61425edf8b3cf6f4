"""`referral-plugin rewards ...`: see rewards and retry the ones whose store call failed.

    referral-plugin rewards list [--status approved] [--failed] [--shop ID] [--limit N]
    referral-plugin rewards retry --id N | --failed [--shop ID]

A reward whose store call failed for good stays APPROVED (or reversed with a pending revoke)
with its error visible here; `retry` makes it due again for the worker's next run.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from referral_plugin.app import AppServices, build_services, prepare_development_database
from referral_plugin.domain.lifecycle import IllegalTransition, RewardStatus
from referral_plugin.models import Reward
from referral_plugin.services.store_failures import failed_store_calls, retry_store_calls
from referral_plugin.settings import Settings

ERROR_WIDTH = 60


def add_reward_parsers(commands: Any) -> None:
    """Add `rewards list` and `rewards retry` to the `referral-plugin` subcommands."""
    rewards = commands.add_parser("rewards", help="rewards and failed store calls").add_subparsers(
        dest="rewards_command", required=True, metavar="SUBCOMMAND"
    )
    listing = rewards.add_parser("list", help="list rewards (newest first)")
    listing.add_argument("--status", choices=[s.value for s in RewardStatus])
    listing.add_argument("--failed", action="store_true", help="only failed store calls")
    listing.add_argument("--shop", type=int, dest="shop_id")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=list_rewards_command)

    retry = rewards.add_parser("retry", help="make failed store calls due again")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, dest="reward_id", help="one reward")
    which.add_argument("--failed", action="store_true", help="every failed reward")
    retry.add_argument("--shop", type=int, dest="shop_id", help="only this shop's rewards")
    retry.set_defaults(handler=retry_rewards_command)


def _open(settings: Settings) -> AppServices:
    prepare_development_database(settings)
    return build_services(settings)


def list_rewards_command(args: argparse.Namespace, settings: Settings) -> int:
    query = select(Reward).order_by(Reward.id.desc()).limit(max(1, args.limit))
    if args.status:
        query = query.where(Reward.status == RewardStatus(args.status))
    if args.failed:
        query = query.where(failed_store_calls(args.shop_id))
    if args.shop_id is not None:
        query = query.where(Reward.shop_id == args.shop_id)
    services = _open(settings)
    try:
        with services.sessions.begin() as session:
            rows = [_row(reward) for reward in session.scalars(query)]
    finally:
        services.engine.dispose()
    if not rows:
        print("No rewards match.")
        return 0
    print(f"{'ID':>6} {'SHOP':>4} {'KIND':<16} {'STATUS':<9} {'VALUE':>10} {'TRIES':>5}  ERROR")
    for row in rows:
        print(row)
    return 0


def _row(reward: Reward) -> str:
    value = "" if reward.value is None else f"{reward.value} {reward.currency}"
    error = (reward.last_store_error or "").replace("\n", " ")
    if error and reward.next_store_attempt_at is not None:
        error = f"(retry {reward.next_store_attempt_at:%Y-%m-%d %H:%M}) {error}"
    if len(error) > ERROR_WIDTH:
        error = error[: ERROR_WIDTH - 1] + "…"
    return (
        f"{reward.id:>6} {reward.shop_id:>4} {reward.kind!s:<16} {reward.status!s:<9} "
        f"{value:>10} {reward.store_attempts or 0:>5}  {error}"
    )


def retry_rewards_command(args: argparse.Namespace, settings: Settings) -> int:
    from referral_plugin.cli import CommandError  # cli imports this module

    services = _open(settings)
    try:
        with services.sessions.begin() as session:
            ids = retry_store_calls(
                session,
                now=datetime.now(tz=UTC),
                reward_id=args.reward_id,
                shop_id=args.shop_id,
                actor="cli",
            )
    except IllegalTransition as exc:
        raise CommandError(f"{exc}; `referral-plugin rewards list --failed` shows them") from exc
    finally:
        services.engine.dispose()
    if not ids:
        print("No failed rewards to retry.")
        return 0
    print(f"{len(ids)} reward(s) due again; the worker retries them on its next run: {ids[:20]}")
    return 0
