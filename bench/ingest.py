"""Webhook ingest throughput: our full edge vs a bare Flask endpoint, same gunicorn, one run.

    /work/venv/bin/python bench/ingest.py                      # SQLite and PostgreSQL
    /work/venv/bin/python bench/ingest.py --databases sqlite   # SQLite only

Targets (issue 3): `POST /webhooks/shopify` through `create_app()` (HMAC verify + shop lookup +
dedupe + durable insert + commit + 200) reaches >= 0.6x the requests/s of a bare Flask endpoint
that reads the body and answers 200 (`bench/bare_app.py`), with p99 < 50 ms at saturation, on
SQLite and on PostgreSQL. Both run under the same gunicorn settings, bound to 127.0.0.1, loaded
by `wrk` (Debian: `apt-get install -y wrk`) with `bench/wrk_shopify.lua`: real signed
`orders/paid` deliveries of a ~15 KB body, a unique X-Shopify-Event-Id per request and every
Nth request an exact duplicate. The targets are printed as information, never asserted.

After each run of our app, the inbox is checked against what wrk saw: one row per unique event
id, every "stored" answer has its row, no row twice, and nothing lost except requests cut off
in flight when wrk stopped (at most one per connection; they never got an answer).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from connectors.signatures import sign_body  # noqa: E402
from referral_plugin import migrations  # noqa: E402
from referral_plugin.app import build_services  # noqa: E402
from referral_plugin.domain.events import Platform  # noqa: E402
from referral_plugin.models import WebhookDelivery  # noqa: E402
from referral_plugin.services.shops import add_shop  # noqa: E402
from referral_plugin.settings import Settings  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
LUA_SCRIPT = BENCH_DIR / "wrk_shopify.lua"
BODY_FILE = ROOT / "tests/fixtures/shopify/orders_create__docs_sample.json"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://referral:referral@127.0.0.1:5432/referral_bench"
API_SECRET = "bench-api-secret"  # noqa: S105 - a throwaway secret for a local benchmark
SECRET_KEY = "bench-secret-key"  # noqa: S105
ENCRYPTION_KEY = base64.urlsafe_b64encode(b"b" * 32).decode()
SHOP_DOMAIN = "bench-shop.myshopify.com"
OURS_APP = "referral_plugin.app:create_app()"  # what the Procfile serves
TOPIC = "orders/paid"
RATIO_TARGET = 0.6
NOISE_CORES = 0.25  # CPU used by processes outside the bench that makes a run noisy
P99_TARGET_MS = 50.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    """One wrk run against one server: what wrk reported plus CPU shares while it ran."""

    label: str
    database: str
    wrk: dict[str, Any]
    cpu: dict[str, float] = field(default_factory=dict)
    check: str = ""

    @property
    def rps(self) -> float:
        return self.wrk["requests"] / (self.wrk["duration_us"] / 1e6)

    def latency_ms(self, key: str) -> float:
        return self.wrk["latency_us"][key] / 1000

    @property
    def errors(self) -> int:
        errors = self.wrk["errors"]
        return sum(errors.values()) + sum(t["non200"] for t in self.wrk["threads"])


# --- processes -------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)  # noqa: DTZ005


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """A gunicorn master we start, wait for and always stop (SIGTERM, then SIGKILL)."""

    def __init__(self, app: str, options: list[str], env: dict[str, str], logfile: Path) -> None:
        self.port = free_port()
        self.logfile = logfile
        command = [
            sys.executable, "-m", "gunicorn", *options,
            "--bind", f"127.0.0.1:{self.port}",
            "--log-level", "warning",
            "--pythonpath", str(BENCH_DIR),
            app,
        ]  # fmt: skip
        self._log = logfile.open("ab")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {self.logfile}\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not ready after {timeout:.0f} s\n{self.log_tail()}")

    def pids(self) -> list[int]:
        """The master and its workers."""
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        return [pid, *map(int, children)]

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def process_cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def postgres_pids(database: str | None) -> list[int]:
    """PostgreSQL's background processes and the backends of `database` (not other clients')."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        is_backend = "(" in title or "[local]" in title
        if database and (not is_backend or f" {database} " in title):
            pids.append(int(entry.name))
    return pids


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def run_wrk(
    wrk: str,
    server: Gunicorn,
    args: argparse.Namespace,
    run_id: str,
    seconds: int,
    title: str,
    pg_database: str | None,
) -> tuple[dict[str, Any], dict[str, float]]:
    """Run wrk for `seconds`; returns its JSON line and the CPU shares (in cores) meanwhile."""
    signature = sign_body(BODY_FILE.read_bytes(), API_SECRET)
    command = [
        wrk, f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "5s",
        "-s", str(LUA_SCRIPT), f"{server.url}/webhooks/shopify",
        "--", run_id, str(BODY_FILE), SHOP_DOMAIN, signature, str(args.duplicate_every),
    ]  # fmt: skip
    server_pids = server.pids()
    pg_pids = postgres_pids(pg_database)
    before = (process_cpu_seconds(server_pids), process_cpu_seconds(pg_pids), machine_cpu())
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    next_tick = started + 2
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        now = time.monotonic()
        if now >= next_tick:
            log(f"  {title}: {now - started:4.1f}/{seconds} s")
            next_tick += 2
        time.sleep(0.1)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - started
    after = (process_cpu_seconds(server_pids), process_cpu_seconds(pg_pids), machine_cpu())
    out = process.stdout.read().decode() if process.stdout else ""
    err = process.stderr.read().decode() if process.stderr else ""
    lines = [line for line in out.splitlines() if line.startswith("BENCH_JSON ")]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{out}\n{err}")
    busy = after[2][0] - before[2][0]
    total = after[2][1] - before[2][1]
    cores = os.cpu_count() or 1
    cpu = {
        "wrk": (usage.ru_utime + usage.ru_stime) / elapsed,
        "gunicorn": (after[0] - before[0]) / elapsed,
        "postgres": (after[1] - before[1]) / elapsed,
        "machine": busy / total * cores if total else 0.0,
    }
    # Whatever else ran meanwhile (other users' tests, ...): it makes the numbers noisy.
    cpu["other"] = max(0.0, cpu["machine"] - cpu["wrk"] - cpu["gunicorn"] - cpu["postgres"])
    return json.loads(lines[-1].removeprefix("BENCH_JSON ")), cpu


# --- databases -------------------------------------------------------------------------------


def prepare_database(url: str) -> int:
    """Reset and migrate the database, install the bench shop; returns its id."""
    settings = bench_settings(url, Path(tempfile.gettempdir()))
    services = build_services(settings)
    try:
        if services.engine.dialect.name == "postgresql":
            with services.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        migrations.upgrade(url)
        with services.sessions.begin() as session:
            shop = add_shop(
                session,
                platform=Platform.SHOPIFY,
                domain=SHOP_DOMAIN,
                currency="USD",
                credentials={"access_token": "shpat_bench"},
                box=services.box,
                now=datetime.now(tz=UTC),
            )
            return shop.id
    finally:
        services.engine.dispose()


def bench_settings(url: str, instance: Path) -> Settings:
    return Settings(
        database_url=url,
        secret_key=SECRET_KEY,
        encryption_key=ENCRYPTION_KEY,
        environment="test",
        instance_path=instance,
        shopify_api_secret=API_SECRET,
    )


def app_env(url: str, instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SHOPIFY_PREVIOUS_API_SECRET"}}
    env.update(
        APP_ENV="test",
        DATABASE_URL=url,
        SECRET_KEY=SECRET_KEY,
        ENCRYPTION_KEY=ENCRYPTION_KEY,
        SHOPIFY_API_SECRET=API_SECRET,
        INSTANCE_PATH=str(instance),
    )
    return env


def check_inbox(url: str, shop_id: int, runs: list[tuple[str, dict[str, Any]]], conns: int) -> str:
    """Compare the inbox with wrk's counts; returns a one-line verdict (prefix OK/FAIL)."""
    services = build_services(bench_settings(url, Path(tempfile.gettempdir())))
    try:
        with services.sessions.begin() as session:
            keys = session.scalars(
                select(WebhookDelivery.dedup_key).where(WebhookDelivery.shop_id == shop_id)
            ).all()
            repeated = session.scalar(
                select(func.count()).select_from(
                    select(WebhookDelivery.dedup_key)
                    .where(WebhookDelivery.shop_id == shop_id)
                    .group_by(WebhookDelivery.dedup_key)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
    finally:
        services.engine.dispose()
    present: dict[tuple[str, int], set[int]] = defaultdict(set)
    for key in keys:
        run_id, tid, counter = key.removeprefix(f"{TOPIC}:").rsplit("-", 2)
        present[(run_id, int(tid))].add(int(counter))
    rows = len(keys)
    acked = in_flight = unanswered = lost = stray = 0
    for run_id, result in runs:
        for thread in result["threads"]:
            ids = present.pop((run_id, thread["tid"]), set())
            answered = sum(thread[k] for k in ("stored", "duplicate", "other_ok", "non200"))
            cut_off = thread["sent"] - answered  # requests wrk sent but stopped waiting for
            missing = sum(1 for n in range(1, thread["last_id"] + 1) if n not in ids)
            committed_unacked = len(ids) - thread["stored"]
            acked += thread["stored"]
            unanswered += cut_off
            in_flight += max(0, committed_unacked)
            stray += sum(1 for n in ids if n > thread["last_id"])
            # Every id is either acknowledged 'stored' exactly once, or carried only by requests
            # cut off in flight (committed or not): anything else is lost or stored twice.
            lost += max(0, -committed_unacked)
            lost += max(0, missing + max(0, committed_unacked) - cut_off)
    stray += sum(len(ids) for ids in present.values())
    ok = repeated == 0 and lost == 0 and stray == 0 and rows == acked + in_flight
    verdict = "OK" if ok else "FAIL"
    return (
        f"{verdict}: {rows} inbox rows = {acked} event ids acknowledged 'stored' + {in_flight} "
        f"committed in the {unanswered} requests cut off in flight when wrk stopped "
        f"(<= {conns} per run); lost {lost}, stored twice {repeated}, unexpected {stray}"
    )


# --- the run ---------------------------------------------------------------------------------


def gunicorn_options(args: argparse.Namespace) -> list[str]:
    options = ["--workers", str(args.workers), "--worker-class", args.worker_class]
    if args.worker_class == "gthread":
        options += ["--threads", str(args.threads)]
    return options


def bench_server(
    wrk: str,
    args: argparse.Namespace,
    app: str,
    env: dict[str, str],
    logfile: Path,
    label: str,
    database: str,
    pg_database: str | None = None,
) -> tuple[Run, list[tuple[str, dict[str, Any]]]]:
    """Start gunicorn, warm up, measure, stop; returns the measured run and every wrk result."""
    server = Gunicorn(app, gunicorn_options(args), env, logfile)
    title = f"{label}/{database}"
    try:
        log(f"{title}: starting gunicorn on {server.url}")
        server.wait_ready()
        results = []
        if args.warmup:
            log(f"{title}: warm-up {args.warmup} s")
            warm, _ = run_wrk(
                wrk, server, args, f"w{label}", args.warmup, f"{title} warm-up", pg_database
            )
            results.append((f"w{label}", warm))
        log(f"{title}: measuring {args.duration} s")
        measured, cpu = run_wrk(wrk, server, args, f"m{label}", args.duration, title, pg_database)
        results.append((f"m{label}", measured))
        run = Run(label=label, database=database, wrk=measured, cpu=cpu)
        log(f"{title}: {run.rps:,.0f} req/s, p50 {run.latency_ms('p50'):.1f} ms, "
            f"p99 {run.latency_ms('p99'):.1f} ms, errors {run.errors}")  # fmt: skip
        return run, results
    finally:
        server.stop()
        log(f"{title}: gunicorn stopped")


def print_report(args: argparse.Namespace, bare: Run, ours: list[Run]) -> None:
    gunicorn = " ".join(gunicorn_options(args))
    print()
    print(
        f"ingest bench {datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores; "
        f"gunicorn {gunicorn}; wrk -t{args.wrk_threads} -c{args.connections} "
        f"-d{args.duration}s (warm-up {args.warmup} s); body {BODY_FILE.stat().st_size:,} B; "
        f"1 in {args.duplicate_every} requests a duplicate"
        + ("" if args.ours_app == OURS_APP else f"; ours = {args.ours_app}")
    )
    header = (
        f"{'target':<6} {'database':<10} {'req/s':>8} {'p50 ms':>7} {'p90 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7} {'errors':>6} {'ratio':>6}  "
        "CPU cores: wrk / gunicorn / postgres / other"
    )
    print(header)
    print("-" * len(header))
    for run in [bare, *ours]:
        ratio = run.rps / bare.rps
        print(
            f"{run.label:<6} {run.database:<10} {run.rps:>8,.0f} {run.latency_ms('p50'):>7.1f} "
            f"{run.latency_ms('p90'):>7.1f} {run.latency_ms('p99'):>7.1f} "
            f"{run.latency_ms('max'):>7.1f} {run.errors:>6} {ratio:>6.2f}  "
            f"{run.cpu['wrk']:.2f} / {run.cpu['gunicorn']:.2f} / {run.cpu['postgres']:.2f} / "
            f"{run.cpu['other']:.2f}"
        )
    print()
    for run in ours:
        ratio = run.rps / bare.rps
        p99 = run.latency_ms("p99")
        ratio_ok = "met" if ratio >= RATIO_TARGET else "NOT met"
        p99_ok = "met" if p99 < P99_TARGET_MS else "NOT met"
        print(
            f"{run.database:<10} ratio {ratio:.2f} (target >= {RATIO_TARGET}: {ratio_ok}); "
            f"p99 {p99:.1f} ms (target < {P99_TARGET_MS:.0f} ms: {p99_ok})"
        )
        print(f"{'':<10} inbox check {run.check}")
    print(
        f"load generator: wrk used {bare.cpu['wrk']:.2f} of {os.cpu_count()} cores while driving "
        f"the bare endpoint at {bare.rps:,.0f} req/s ({bare.rps / max(r.rps for r in ours):.1f}x "
        "our best), so it is not what limits our numbers"
    )
    noisy = max(run.cpu["other"] for run in [bare, *ours])
    if noisy > NOISE_CORES:
        print(
            f"WARNING: other processes used up to {noisy:.2f} of {os.cpu_count()} cores during "
            "the runs (column 'other'): the numbers are noisy; rerun on a quiet machine"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_POSTGRES_URL,
        help="a PostgreSQL database the bench may wipe (env BENCH_DATABASE_URL)",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds measured per target")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per target")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn --workers")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=4, help="gunicorn --threads (gthread)")
    parser.add_argument(
        "--ours-app",
        default=OURS_APP,
        help="gunicorn app spec of our app (to compare a patched variant; PYTHONPATH reaches it)",
    )
    parser.add_argument(
        "--duplicate-every", type=int, default=20, help="every Nth request is a duplicate"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 120 or not 0 <= args.warmup <= 60:
        parser.error("--duration must be 1..120 s and --warmup 0..60 s")
    if not 1 <= args.connections <= 256:
        parser.error("--connections must be 1..256")
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not set(args.databases) <= {"sqlite", "postgres"} or not args.databases:
        parser.error("--databases takes sqlite, postgres or both")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        print(
            "wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu) and run again",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp_name:
        tmp = Path(tmp_name)
        log(f"logs and the SQLite file under {tmp} (removed at the end)")
        bare, _ = bench_server(
            wrk, args, "bare_app:create_app()", dict(os.environ), tmp / "bare.log", "bare", "-"
        )
        ours = []
        for database in args.databases:
            url = f"sqlite:///{tmp / 'bench.db'}" if database == "sqlite" else args.postgres_url
            log(f"ours/{database}: resetting and migrating the database")
            shop_id = prepare_database(url)
            run, results = bench_server(
                wrk,
                args,
                args.ours_app,
                app_env(url, tmp / "instance"),
                tmp / f"ours-{database}.log",
                "ours",
                database,
                make_url(url).database if database == "postgres" else None,
            )
            log(f"ours/{database}: checking the inbox")
            run.check = check_inbox(url, shop_id, results, args.connections)
            log(f"ours/{database}: {run.check}")
            ours.append(run)
        print_report(args, bare, ours)
    return 0


if __name__ == "__main__":
    sys.exit(main())
