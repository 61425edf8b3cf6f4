"""The `referral-plugin` command, run in-process with an explicit environment mapping."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from referral_plugin import cli
from referral_plugin.app import app_services, create_app
from referral_plugin.cli import main
from referral_plugin.db import make_engine
from referral_plugin.migrations import alembic_config
from referral_plugin.settings import Settings
from tests.conftest import TEST_ENCRYPTION_KEY

TOKEN = re.compile(r"\brp_[A-Za-z0-9_\-]+")


@pytest.fixture
def environ(tmp_path: Path, database_url: str, engine: Engine) -> dict[str, str]:
    """The test session's migrated database, as the command sees it through its environment."""
    return {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "cli-test-secret",
        "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
    }


def run(capsys: pytest.CaptureFixture[str], environ: dict[str, str], *argv: str):
    status = main(list(argv), environ=environ)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def unique_shopify_domain() -> str:
    return f"cli-{uuid.uuid4().hex[:10]}.myshopify.com"


def assert_user_error(status: int, err: str, named: str) -> None:
    assert status == 2
    assert err.startswith("error: ")
    assert named in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_db_upgrade_migrates_a_fresh_database_to_head(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = {"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "instance")}

    status, out, _ = run(capsys, env, "db", "upgrade")

    assert status == 0
    assert "latest revision" in out
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    engine = make_engine(url)
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head
    engine.dispose()


def test_a_fresh_development_checkout_works_without_any_setup(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, _ = run(capsys, {"INSTANCE_PATH": str(tmp_path)}, "shop", "list")

    assert status == 0
    assert "No shops yet" in out
    assert (tmp_path / "referral_plugin.db").exists()


def test_add_shopify_saves_the_shop_and_lists_it(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    domain = unique_shopify_domain()

    status, out, _ = run(
        capsys, environ, "shop", "add-shopify", "--domain", domain.upper(), "--token", "shpat_abc"
    )

    assert status == 0
    assert f"shopify {domain} (USD)" in out
    assert "shop token --id" in out
    status, out, _ = run(capsys, environ, "shop", "list")
    assert status == 0
    assert domain in out
    assert "shpat_abc" not in out


def test_add_shopify_again_updates_the_same_shop(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    domain = unique_shopify_domain()
    args = ("shop", "add-shopify", "--domain", domain, "--token", "shpat_one")
    _, first, _ = run(capsys, environ, *args)
    _, second, _ = run(capsys, environ, *args[:-1], "shpat_two", "--currency", "eur")

    first_id = re.search(r"Shop (\d+) saved", first).group(1)
    assert f"Shop {first_id} saved: shopify {domain} (EUR)" in second


@pytest.mark.parametrize(
    ("label", "domain"),
    [
        ("not myshopify", "shop.example.com"),
        ("leading dash", "-shop.myshopify.com"),
        ("trailing dash", "shop-.myshopify.com"),
        ("underscore", "my_shop.myshopify.com"),
        ("one character", "a.myshopify.com"),
        ("subdomain trick", "evil.com/.myshopify.com"),
        ("with scheme", "https://shop.myshopify.com"),
    ],
)
def test_add_shopify_refuses_a_bad_domain(
    label: str, domain: str, capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    status, _, err = run(capsys, environ, "shop", "add-shopify", f"--domain={domain}", "--token=x")

    assert_user_error(status, err, "--domain")


@pytest.mark.parametrize(
    ("label", "extra", "named"),
    [
        ("token prefix", ("--token", "secret123"), "--token"),
        ("currency", ("--token", "shpat_x", "--currency", "dollars"), "--currency"),
    ],
)
def test_add_shopify_refuses_bad_token_or_currency(
    label: str,
    extra: tuple[str, ...],
    named: str,
    capsys: pytest.CaptureFixture[str],
    environ: dict[str, str],
) -> None:
    domain = unique_shopify_domain()

    status, _, err = run(capsys, environ, "shop", "add-shopify", "--domain", domain, *extra)

    assert_user_error(status, err, named)


def test_add_woocommerce_saves_the_store(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    host = f"wc-{uuid.uuid4().hex[:8]}.example.com"

    status, out, _ = run(
        capsys, environ, "shop", "add-woocommerce", "--url", f"https://{host.upper()}/",
        "--key", "ck_123", "--secret", "cs_456", "--currency", "GBP",
        "--skip-verify", "--skip-webhooks",  # offline: the store is faked in test_woocommerce_*
    )  # fmt: skip

    assert status == 0
    assert "woocommerce" in out
    assert host in out
    assert "(GBP)" in out


@pytest.mark.parametrize(
    ("label", "url", "key", "secret", "named"),
    [
        ("plain http", "http://store.example.com", "ck_1", "cs_1", "--url"),
        ("not a url", "store", "ck_1", "cs_1", "--url"),
        ("ftp", "ftp://store.example.com", "ck_1", "cs_1", "--url"),
        ("query string", "https://store.example.com/?a=1", "ck_1", "cs_1", "--url"),
        ("key prefix", "https://store.example.com", "key_1", "cs_1", "--key"),
        ("secret prefix", "https://store.example.com", "ck_1", "secret", "--secret"),
    ],
)
def test_add_woocommerce_refuses_bad_input(
    label: str,
    url: str,
    key: str,
    secret: str,
    named: str,
    capsys: pytest.CaptureFixture[str],
    environ: dict[str, str],
) -> None:
    status, _, err = run(
        capsys, environ, "shop", "add-woocommerce", "--url", url, "--key", key, "--secret", secret
    )

    assert_user_error(status, err, named)


def test_shop_token_prints_a_working_admin_token_once(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], settings: Settings
) -> None:
    domain = unique_shopify_domain()
    _, out, _ = run(
        capsys, environ, "shop", "add-shopify", "--domain", domain, "--token", "shpat_x"
    )
    shop_id = re.search(r"Shop (\d+) saved", out).group(1)

    status, out, _ = run(capsys, environ, "shop", "token", "--id", shop_id)

    assert status == 0
    token = TOKEN.search(out).group(0)
    assert api_get(settings, "/api/v1/programs", token).status_code == 200


def test_shop_token_for_an_unknown_shop_says_how_to_find_one(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    status, _, err = run(capsys, environ, "shop", "token", "--id", "987654321")

    assert_user_error(status, err, "shop list")


def test_missing_production_secret_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = {
        "APP_ENV": "production",
        "INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": "postgresql://referral@127.0.0.1/referral",
    }

    status, _, err = run(capsys, env, "shop", "list")

    assert_user_error(status, err, "SECRET_KEY")


def test_serve_runs_two_workers_per_cpu_on_postgresql_and_two_on_sqlite(
    capsys: pytest.CaptureFixture[str],
    environ: dict[str, str],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[dict[str, object]] = []
    monkeypatch.setattr(cli.GunicornServer, "run", lambda server: started.append(server.options))
    # serve's own logging replaces the root handlers: kept out of the test process
    monkeypatch.setattr(cli, "configure_logging", lambda _level: None)
    monkeypatch.setattr(cli.os, "sched_getaffinity", lambda _pid: {0, 1, 2})  # 3 CPUs

    status, out, _ = run(capsys, environ, "serve")
    told, _, _ = run(capsys, environ, "serve", "--workers", "5")
    refused, _, err = run(capsys, environ, "serve", "--workers", "0")

    expected = 6 if database_url.startswith("postgresql") else 2
    assert (status, told) == (0, 0)
    assert [options["workers"] for options in started] == [expected, 5]
    assert f"with {expected} workers" in out
    assert_user_error(refused, err, "--workers")
    assert (cli.web_workers("postgresql", 2), cli.web_workers("sqlite", 8)) == (4, 2)


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fly"], environ={}) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_demo_is_idempotent_and_its_token_answers_the_api(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], settings: Settings
) -> None:
    first_status, first, _ = run(capsys, environ, "demo")
    second_status, second, _ = run(capsys, environ, "demo")

    assert (first_status, second_status) == (0, 0)
    assert "demo-store.myshopify.com" in second
    assert "curl" in second
    token = TOKEN.search(second).group(0)
    programs = api_get(settings, "/api/v1/programs", token)
    assert programs.status_code == 200
    assert len(programs.json["programs"]) == 2
    advocates = api_get(settings, "/api/v1/advocates", token)
    assert advocates.status_code == 200
    first_codes = sorted(advocate_codes(first))
    assert first_codes
    assert first_codes == sorted(advocate_codes(second))
    assert len(advocates.json["advocates"]) == len(first_codes)
    join_page = re.search(r"join page: +http://[^/]+(/p/\S+/join)", second).group(1)
    assert client_get(settings, join_page).status_code == 200


def test_demo_prints_a_dashboard_sign_in_link_that_signs_in_once(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], settings: Settings
) -> None:
    _, output, _ = run(capsys, environ, "demo")

    path = re.search(r"dashboard .*:\s+http://[^/]+(/admin/login/\S+)", output).group(1)
    app = create_app(settings)
    try:
        client = app.test_client()
        page = client.get(path)
        assert page.status_code == 200 and "Demo Store" in page.get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
        signed_in = client.post(path, data={"csrf_token": csrf.group(1)})
        assert signed_in.status_code == 303
        assert client.get("/admin/").status_code == 200
        assert app.test_client().post(path, data={"csrf_token": csrf.group(1)}).status_code != 303
    finally:
        app_services(app).engine.dispose()


def client_get(settings: Settings, path: str):
    app = create_app(settings)
    try:
        return app.test_client().get(path)
    finally:
        app_services(app).engine.dispose()


def advocate_codes(output: str) -> list[str]:
    return re.findall(r"code ([A-Z0-9-]{8,})", output)


def api_get(settings: Settings, path: str, token: str):
    app = create_app(settings)
    try:
        return app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})
    finally:
        app_services(app).engine.dispose()
