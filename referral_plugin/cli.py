"""The `referral-plugin` command: serve, worker, db upgrade, demo and shop administration.

`main(argv, environ=...)` builds Settings from `environ` (default: the process environment), so
tests run commands in-process against their own database. Mistakes in user input print one line
saying what to do and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from connectors.shopify.shop_domain import valid_shop_domain
from connectors.woocommerce.store_url import StoreUrlError, checked_store_url
from referral_plugin import migrations, woocommerce_connect
from referral_plugin.app import (
    AppServices,
    app_services,
    build_services,
    create_app,
    prepare_development_database,
)
from referral_plugin.cli_rewards import add_reward_parsers
from referral_plugin.cli_worker import add_worker_parsers
from referral_plugin.domain.events import Platform
from referral_plugin.errors import NotFound, ValidationError
from referral_plugin.models import Shop
from referral_plugin.services import shops
from referral_plugin.settings import Settings, SettingsError

USAGE_ERROR = 2
SHOPIFY_TOKEN_PREFIXES = ("shpat_", "shpca_", "shppa_")
CURRENCY = re.compile(r"^[A-Z]{3}$")

Handler = Callable[[argparse.Namespace, Settings], int]


class CommandError(Exception):
    """A mistake the user can fix; the message says how."""


def main(argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 2 for user errors)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage line and the problem
        return exc.code if isinstance(exc.code, int) else USAGE_ERROR
    try:
        return args.handler(args, Settings.from_env(environ))
    except (CommandError, SettingsError) as exc:
        return fail(str(exc))
    except ValidationError as exc:
        return fail("; ".join(f"{e.field}: {e.message}" for e in exc.errors))
    except NotFound as exc:
        return fail(f"{exc}; `referral-plugin shop list` shows the shops")
    except (OperationalError, ProgrammingError) as exc:
        return fail(database_problem(exc))
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return USAGE_ERROR


def database_problem(exc: DBAPIError) -> str:
    error_class = type(exc.orig or exc).__name__
    return (
        f"the database cannot be used ({error_class}): check DATABASE_URL and run "
        "`referral-plugin db upgrade`"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="referral-plugin", description="Referral marketing for Shopify and WooCommerce."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web app with gunicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        help="gunicorn worker processes (default: 2 per CPU on PostgreSQL, 2 on SQLite)",
    )
    serve.set_defaults(handler=serve_command)

    worker = commands.add_parser("worker", help="run the scheduled jobs (one process type)")
    worker.set_defaults(handler=worker_command)

    database = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="SUBCOMMAND"
    )
    upgrade = database.add_parser("upgrade", help="migrate the schema to the latest revision")
    upgrade.set_defaults(handler=db_upgrade_command)

    demo = commands.add_parser("demo", help="create a demo shop with programs, advocates, orders")
    demo.set_defaults(handler=demo_command)

    add_shop_parsers(commands)
    add_reward_parsers(commands)
    add_worker_parsers(commands)  # deliveries replay|list, status
    return parser


def add_shop_parsers(commands: Any) -> None:
    shop = commands.add_parser("shop", help="connected shops").add_subparsers(
        dest="shop_command", required=True, metavar="SUBCOMMAND"
    )
    shopify = shop.add_parser("add-shopify", help="connect a Shopify shop with an Admin API token")
    shopify.add_argument("--domain", required=True, help="the-shop.myshopify.com")
    shopify.add_argument("--token", required=True, help="Admin API access token (shpat_...)")
    shopify.add_argument("--currency", default="USD", help="ISO 4217 code (default USD)")
    shopify.add_argument("--name")
    shopify.set_defaults(handler=add_shopify_command)

    woocommerce = shop.add_parser("add-woocommerce", help="connect a WooCommerce store")
    woocommerce.add_argument("--url", required=True, help="https://store.example.com")
    woocommerce.add_argument("--key", required=True, help="REST API consumer key (ck_...)")
    woocommerce.add_argument("--secret", required=True, help="REST API consumer secret (cs_...)")
    woocommerce.add_argument("--currency", help="ISO 4217 code (default: the store's currency)")
    woocommerce.add_argument("--name")
    woocommerce.add_argument(
        "--skip-verify", action="store_true", help="save the keys without calling the store"
    )
    woocommerce.add_argument(
        "--skip-webhooks", action="store_true", help="do not create the store's webhooks"
    )
    woocommerce.set_defaults(handler=add_woocommerce_command)

    listing = shop.add_parser("list", help="list the connected shops")
    listing.set_defaults(handler=list_shops_command)

    token = shop.add_parser("token", help="issue a new admin API token for a shop")
    token.add_argument("--id", type=int, required=True, dest="shop_id")
    token.set_defaults(handler=issue_token_command)


# --- processes ------------------------------------------------------------------------------


class GunicornServer(BaseApplication):
    """Gunicorn serving an app built once in the master; workers fork from it."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def web_workers(database: str, cpus: int) -> int:
    """How many sync gunicorn workers `serve` runs unless told. PostgreSQL: two per CPU, since a
    worker waits for each delivery's commit (its WAL flush) with the CPU idle; on 2 cores, 4
    workers took 425-527 webhooks/s at p99 49-54 ms where 2 took 332-446 at 57-70 ms
    (`bench/ingest.py`). SQLite: 2, since it has one writer and more processes only queue on
    its lock (4 workers: p99 136-201 ms)."""
    return 2 * cpus if database == "postgresql" else 2


def _cpus() -> int:
    """The CPUs this process may run on (Linux: its affinity, a container's included)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # macOS, Windows


def serve_command(args: argparse.Namespace, settings: Settings) -> int:
    if (args.workers is not None and args.workers < 1) or not 0 < args.port < 65536:
        raise CommandError("--workers must be at least 1 and --port between 1 and 65535")
    configure_logging(logging.INFO)
    app = create_app(settings)
    engine = app_services(app).engine
    workers = args.workers or web_workers(engine.dialect.name, _cpus())

    def post_fork(_server: Any, _worker: Any) -> None:
        engine.dispose(close=False)  # never share the master's pooled connections

    options = {
        "bind": f"{args.host}:{args.port}",
        "workers": workers,
        "accesslog": "-",
        "post_fork": post_fork,
    }
    print(f"Serving on http://{args.host}:{args.port} with {workers} workers; Ctrl-C stops.")
    GunicornServer(app, options).run()
    return 0


def worker_command(args: argparse.Namespace, settings: Settings) -> int:
    from referral_plugin.jobs import run_worker  # the only place a scheduler is ever built

    configure_logging(logging.INFO)
    prepare_development_database(settings)
    run_worker(settings)
    return 0


def db_upgrade_command(args: argparse.Namespace, settings: Settings) -> int:
    migrations.upgrade(settings.database_url)
    print(f"Database schema is at the latest revision ({dialect_name(settings)}).")
    return 0


def demo_command(args: argparse.Namespace, settings: Settings) -> int:
    from referral_plugin.demo import run_demo

    services = open_services(settings)
    try:
        run_demo(services, report=print)
    finally:
        services.engine.dispose()
    return 0


# --- shops ----------------------------------------------------------------------------------


def add_shopify_command(args: argparse.Namespace, settings: Settings) -> int:
    domain = args.domain.strip().lower()
    if not valid_shop_domain(domain):
        raise CommandError(
            f"--domain {args.domain!r} is not a myshopify domain; "
            "pass it like my-store.myshopify.com"
        )
    token = args.token.strip()
    if not token.startswith(SHOPIFY_TOKEN_PREFIXES):
        raise CommandError(
            "--token must be an Admin API access token starting with shpat_ "
            "(Shopify admin > Apps > Develop apps > API credentials)"
        )
    credentials = {"access_token": token}
    return save_shop(settings, Platform.SHOPIFY, domain, args, credentials)


def add_woocommerce_command(args: argparse.Namespace, settings: Settings) -> int:
    """Verify the keys, ensure the webhooks, save the store (`woocommerce_connect`, the same
    path as the key flow's callback)."""
    url = store_url(args.url)
    key, secret = args.key.strip(), args.secret.strip()
    if not key.startswith("ck_"):
        raise CommandError("--key must be a WooCommerce REST API consumer key starting with ck_")
    if not secret.startswith("cs_"):
        raise CommandError(
            "--secret must be a WooCommerce REST API consumer secret starting with cs_"
        )
    currency = None if args.currency is None else checked_currency(args.currency)
    services = open_services(settings)
    try:
        connected = woocommerce_connect.connect_store(
            services, store_url=url, consumer_key=key, consumer_secret=secret, now=utc_now(),
            currency=currency, name=args.name, verify=not args.skip_verify,
            create_webhooks=not args.skip_webhooks,
        )  # fmt: skip
    except woocommerce_connect.ConnectFailed as error:
        hint = "; check --key and --secret (read_write keys of a store manager)"
        raise CommandError(
            f"{error.message}{hint if error.status in (401, 403) else ''}; nothing was saved"
        ) from error
    finally:
        services.engine.dispose()
    if args.skip_verify:
        print("Keys NOT verified (--skip-verify): the store was not called.")
    saved = f"woocommerce {connected.store_url} ({connected.currency})"
    print(f"Shop {connected.shop_id} saved: {saved}.")
    print(f"Issue its admin API token with: referral-plugin shop token --id {connected.shop_id}")
    if args.skip_webhooks:
        print("Webhooks NOT created (--skip-webhooks): run the command again without it.")
        return 0
    ids = ", ".join(map(str, connected.webhook_ids))
    print(f"Webhooks {ids} deliver to {connected.delivery_url}.")
    if not connected.delivery_url.startswith("https://"):
        print("warning: WooCommerce delivers only to public addresses: set PUBLIC_BASE_URL.")
    return 0


def save_shop(
    settings: Settings,
    platform: Platform,
    domain: str,
    args: argparse.Namespace,
    credentials: dict[str, str],
) -> int:
    currency = checked_currency(args.currency)
    services = open_services(settings)
    with services.sessions.begin() as session:
        shop = shops.add_shop(
            session,
            platform=platform,
            domain=domain,
            currency=currency,
            credentials=credentials,
            box=services.box,
            name=args.name,
            now=utc_now(),
        )
        shop_id = shop.id
    services.engine.dispose()
    print(f"Shop {shop_id} saved: {platform.value} {domain} ({currency}).")
    print(f"Issue its admin API token with: referral-plugin shop token --id {shop_id}")
    return 0


def list_shops_command(args: argparse.Namespace, settings: Settings) -> int:
    services = open_services(settings)
    with services.sessions.begin() as session:
        rows = session.execute(
            select(Shop.id, Shop.platform, Shop.domain, Shop.currency).order_by(Shop.id)
        ).all()
    services.engine.dispose()
    if not rows:
        print("No shops yet: add one with `referral-plugin shop add-shopify` or run `demo`.")
        return 0
    print(f"{'ID':>4}  {'PLATFORM':<12} {'CURRENCY':<8} DOMAIN")
    for shop_id, platform, domain, currency in rows:
        print(f"{shop_id:>4}  {platform!s:<12} {currency:<8} {domain}")
    return 0


def issue_token_command(args: argparse.Namespace, settings: Settings) -> int:
    services = open_services(settings)
    with services.sessions.begin() as session:
        shops.get_shop(session, args.shop_id)
        token = shops.issue_api_token(session, args.shop_id)
    services.engine.dispose()
    print(f"Admin API token for shop {args.shop_id} (shown once; keep it secret):")
    print(token)
    return 0


# --- helpers --------------------------------------------------------------------------------


def open_services(settings: Settings) -> AppServices:
    """Services for a command; in development on SQLite the schema is migrated first."""
    prepare_development_database(settings)
    return build_services(settings)


def store_url(raw: str) -> str:
    """A WooCommerce store's canonical base URL (the form webhooks are matched against)."""
    try:
        return checked_store_url(raw)
    except StoreUrlError as exc:
        raise CommandError(f"--url: {exc}") from exc


def checked_currency(raw: str) -> str:
    currency = raw.strip().upper()
    if not CURRENCY.fullmatch(currency):
        raise CommandError(f"--currency must be a 3-letter ISO 4217 code such as USD, got {raw!r}")
    return currency


def dialect_name(settings: Settings) -> str:
    return "SQLite" if settings.is_sqlite else "PostgreSQL"


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


class KeyValueFormatter(logging.Formatter):
    """`time level logger message key=value ...` with the `extra=` fields of the record."""

    STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in self.STANDARD}
        if extras:
            line += " " + " ".join(f"{key}={value}" for key, value in extras.items())
        return line


def configure_logging(level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))  # jobs log their runs


if __name__ == "__main__":
    sys.exit(main())
