"""Webhook subscriptions and the connect-time key check against FakeWooCommerce, and
`referral-plugin shop add-woocommerce` verifying keys and creating webhooks there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from connectors.woocommerce.rest_client import WooCommerceRestClient
from connectors.woocommerce.webhooks_api import DEFAULT_TOPICS, ensure_webhooks, verify_keys
from referral_plugin.app import build_services
from referral_plugin.cli import main
from referral_plugin.domain.events import Platform
from referral_plugin.domain.store import StoreUnavailable
from referral_plugin.services.shops import find_shop, shop_credentials
from referral_plugin.settings import Settings
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.woocommerce_fake import FakeWooCommerce

OUR_URL = "https://referrals.example.com/webhooks/woocommerce"
SECRET = "our-webhook-secret"


@pytest.fixture
def store() -> Iterator[FakeWooCommerce]:
    with FakeWooCommerce() as fake:
        yield fake


@pytest.fixture
def rest(store: FakeWooCommerce) -> WooCommerceRestClient:
    return WooCommerceRestClient(
        store.url, store.consumer_key, store.consumer_secret, sleep=lambda _: None
    )


def ours(store: FakeWooCommerce) -> dict[str, dict[str, Any]]:
    return {hook["topic"]: hook for hook in store.webhooks.values() if hook["name"]}


# --- ensure_webhooks --------------------------------------------------------------------------


def test_missing_webhooks_are_created_with_our_secret_and_url(
    rest: WooCommerceRestClient, store: FakeWooCommerce
) -> None:
    ids = ensure_webhooks(rest, OUR_URL, SECRET)

    assert [store.webhooks[i]["topic"] for i in ids] == list(DEFAULT_TOPICS)
    for hook_id in ids:
        hook = store.webhooks[hook_id]
        assert (hook["delivery_url"], hook["status"]) == (OUR_URL, "active")
        assert hook["name"].startswith("referral-plugin")
        assert store.webhook_secrets[hook_id] == SECRET


def test_a_second_run_leaves_correct_webhooks_alone(
    rest: WooCommerceRestClient, store: FakeWooCommerce
) -> None:
    first = ensure_webhooks(rest, OUR_URL, SECRET)
    writes_before = len(store.writes())

    second = ensure_webhooks(rest, OUR_URL, SECRET)

    assert second == first
    assert len(store.writes()) == writes_before


def test_disabled_webhooks_are_reactivated_and_paused_ones_respected(
    rest: WooCommerceRestClient, store: FakeWooCommerce
) -> None:
    ids = ensure_webhooks(rest, OUR_URL, SECRET)
    store.webhooks[ids[0]]["status"] = "disabled"  # 7 failed deliveries
    store.webhooks[ids[1]]["status"] = "paused"  # the merchant's choice

    assert ensure_webhooks(rest, OUR_URL, SECRET) == ids

    assert store.webhooks[ids[0]]["status"] == "active"
    assert store.webhooks[ids[1]]["status"] == "paused"
    assert store.writes()[-1] == ("PUT", f"webhooks/{ids[0]}")


def test_ours_pointing_elsewhere_are_repointed_duplicates_removed_foreign_untouched(
    rest: WooCommerceRestClient, store: FakeWooCommerce
) -> None:
    moved = store.add_webhook(
        name="referral-plugin order.created", topic="order.created",
        delivery_url="https://old.example.com/webhooks/woocommerce",
    )  # fmt: skip
    keep = store.add_webhook(name="referral-plugin order.updated", topic="order.updated",
                             delivery_url=OUR_URL, secret=SECRET)  # fmt: skip
    duplicate = store.add_webhook(
        name="referral-plugin order.updated", topic="order.updated", delivery_url=OUR_URL
    )
    adopted = store.add_webhook(name="Manual", topic="order.deleted", delivery_url=OUR_URL)
    foreign = store.add_webhook(
        name="ERP sync", topic="order.created", delivery_url="https://erp.example.com/hook"
    )

    ids = ensure_webhooks(rest, OUR_URL, SECRET)

    assert ids == [moved["id"], keep["id"], adopted["id"]]
    assert duplicate["id"] not in store.webhooks
    assert store.webhooks[moved["id"]]["delivery_url"] == OUR_URL
    assert store.webhook_secrets[moved["id"]] == SECRET
    assert store.webhooks[adopted["id"]]["name"] == "referral-plugin order.deleted"
    assert store.webhook_secrets[adopted["id"]] == SECRET
    assert store.webhooks[foreign["id"]]["delivery_url"] == "https://erp.example.com/hook"
    assert store.calls("DELETE", f"webhooks/{duplicate['id']}") == [{"force": "true"}]


def test_force_secret_rewrites_the_secret_of_correct_webhooks(
    rest: WooCommerceRestClient, store: FakeWooCommerce
) -> None:
    ids = ensure_webhooks(rest, OUR_URL, "old-secret")

    ensure_webhooks(rest, OUR_URL, SECRET, force_secret=True)

    assert [store.webhook_secrets[i] for i in ids] == [SECRET] * 3


def test_the_webhook_list_is_read_across_pages(
    rest: WooCommerceRestClient, store: FakeWooCommerce
) -> None:
    for index in range(120):
        store.add_webhook(name=f"other {index}", delivery_url=f"https://x.example/{index}")
    mine = store.add_webhook(name="referral-plugin order.created", delivery_url=OUR_URL)

    ids = ensure_webhooks(rest, OUR_URL, SECRET, topics=("order.created",))

    assert ids == [mine["id"]]
    assert [q["page"] for q in store.calls("GET", "webhooks")] == ["1", "2"]


# --- verify_keys ------------------------------------------------------------------------------


def test_verify_keys_accepts_working_keys(rest: WooCommerceRestClient) -> None:
    verify_keys(rest)


@pytest.mark.parametrize(
    ("label", "secret", "fault", "says"),
    [
        ("wrong secret", "cs_wrong", None, "reconnect the store"),
        ("no REST route", None, (404, "rest_no_route"), "permalinks"),
        ("store down", None, (503, None), "try again later"),
    ],
)
def test_verify_keys_explains_what_is_wrong(
    label: str,
    secret: str | None,
    fault: tuple[int, str | None] | None,
    says: str,
    store: FakeWooCommerce,
) -> None:
    client = WooCommerceRestClient(
        store.url, store.consumer_key, secret or store.consumer_secret, sleep=lambda _: None
    )
    if fault is not None:
        store.fail_next(fault[0], code=fault[1], times=3)

    with pytest.raises(StoreUnavailable) as raised:
        verify_keys(client)

    assert says in str(raised.value)


# --- the operator command ---------------------------------------------------------------------


@pytest.fixture
def environ(tmp_path: Path, database_url: str, engine: Engine) -> dict[str, str]:
    return {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "cli-test-secret",
        "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
        "PUBLIC_BASE_URL": "https://referrals.example.com",
    }


def add_store(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], store: FakeWooCommerce, *extra: str
) -> tuple[int, str, str]:
    status = main(
        ["shop", "add-woocommerce", "--url", store.url, "--key", store.consumer_key,
         "--secret", store.consumer_secret, *extra],
        environ=environ,
    )  # fmt: skip
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def saved_credentials(environ: dict[str, str], url: str) -> dict[str, str]:
    services = build_services(Settings.from_env(environ))
    try:
        with services.sessions.begin() as session:
            shop = find_shop(session, Platform.WOOCOMMERCE, url)
            assert shop is not None
            return shop_credentials(shop, services.box)
    finally:
        services.engine.dispose()


def test_add_woocommerce_verifies_keys_and_creates_signed_webhooks(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], store: FakeWooCommerce
) -> None:
    status, out, err = add_store(capsys, environ, store)

    assert (status, err) == (0, "")
    assert store.calls("GET", "webhooks")[0] == {"per_page": "1"}  # the key check
    credentials = saved_credentials(environ, store.url)
    assert len(credentials["webhook_secret"]) >= 40
    hooks = ours(store)
    assert sorted(hooks) == sorted(DEFAULT_TOPICS)
    for hook in hooks.values():
        assert hook["delivery_url"] == OUR_URL
        assert store.webhook_secrets[hook["id"]] == credentials["webhook_secret"]
    assert OUR_URL in out


def test_adding_the_store_again_keeps_its_webhook_secret(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], store: FakeWooCommerce
) -> None:
    add_store(capsys, environ, store)
    first = saved_credentials(environ, store.url)["webhook_secret"]
    hooks_before = {hook["id"] for hook in store.webhooks.values()}

    status, _, _ = add_store(capsys, environ, store)

    assert status == 0
    assert saved_credentials(environ, store.url)["webhook_secret"] == first
    assert {hook["id"] for hook in store.webhooks.values()} == hooks_before


def test_add_woocommerce_with_wrong_keys_is_a_one_line_error_and_saves_nothing(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], store: FakeWooCommerce
) -> None:
    status, _, err = add_store(capsys, environ, store, "--secret", "cs_wrong")

    assert status == 2
    assert err.startswith(
        "error: the keys could not be verified: WooCommerce rejected the API keys"
    )
    assert "nothing was saved" in err
    assert "--key" in err
    assert len(err.strip().splitlines()) == 1
    assert store.webhooks == {}
    services = build_services(Settings.from_env(environ))
    with services.sessions.begin() as session:
        assert find_shop(session, Platform.WOOCOMMERCE, store.url) is None
    services.engine.dispose()


def test_skip_flags_save_the_store_without_calling_it(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], store: FakeWooCommerce
) -> None:
    status, out, _ = add_store(capsys, environ, store, "--skip-verify", "--skip-webhooks")

    assert status == 0
    assert store.seen == []
    assert "NOT verified" in out
    assert "NOT created" in out
    assert saved_credentials(environ, store.url)["webhook_secret"]


def test_a_failed_webhook_setup_saves_nothing_and_says_so(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], store: FakeWooCommerce
) -> None:
    """Webhooks are ensured before the store is saved (the key flow's order: a failed
    reconnect must not replace working keys), so nothing is half done."""
    store.fail_next(400, code="woocommerce_rest_webhook_invalid_topic", method="POST")

    status, _, err = add_store(capsys, environ, store)

    assert status == 2
    assert "woocommerce_rest_webhook_invalid_topic" in err
    assert "nothing was saved" in err
    services = build_services(Settings.from_env(environ))
    with services.sessions.begin() as session:
        assert find_shop(session, Platform.WOOCOMMERCE, store.url) is None
    services.engine.dispose()


def test_add_woocommerce_takes_the_store_currency_and_admin_email(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], store: FakeWooCommerce
) -> None:
    store.currency, store.admin_email = "EUR", "Owner@Store.Example.com"

    status, out, _ = add_store(capsys, environ, store)

    assert status == 0
    assert "(EUR)" in out
    services = build_services(Settings.from_env(environ))
    with services.sessions.begin() as session:
        shop = find_shop(session, Platform.WOOCOMMERCE, store.url)
        assert (shop.currency, shop.email) == ("EUR", "owner@store.example.com")
    services.engine.dispose()
