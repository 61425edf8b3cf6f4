"""The referral link `/r/<code>` and the friend's claim through the Flask test client, against
the local fake Shopify and WooCommerce stores: where each kind of program sends the friend on
each platform, the click (a keyed IP hash, never the IP; not for HEAD, previews, prefetches or
repeats), the cookies, the 404 and the guard against guessing codes, the advocate's own link,
and the per-friend claim (CSRF, rate limits, self-referral, one code per inbox, the code in
the store before it is shown, a store that is down)."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, update

from referral_plugin.app import app_services
from referral_plugin.domain.decisions import CodeKind
from referral_plugin.domain.events import Platform
from referral_plugin.models import Advocate, AdvocateStatus, Claim, Click, Code, ProgramStatus
from referral_plugin.models import Program as ProgramRow
from referral_plugin.services.advocates import enroll_advocate
from referral_plugin.services.programs import create_program
from referral_plugin.services.shops import add_shop
from referral_plugin.settings import Settings
from tests.edge.conftest import built_app
from tests.shopify_fake import TOKEN, FakeShopify, admin_schema, origin_of, serving
from tests.woocommerce_fake import FakeWooCommerce

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BROWSER = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36"
TWO_SIDED = {
    "name": "Give 15%, get $10",
    "kind": "two_sided",
    "friend_reward": {"kind": "percent_discount", "percent": "15"},
    "advocate_reward": {"kind": "fixed_discount", "amount": "10.00"},
}
PER_FRIEND = {**TWO_SIDED, "claim_mode": "per_friend"}
ONE_SIDED = {"name": "Give 10", "kind": "one_sided",
             "advocate_reward": {"kind": "fixed_discount", "amount": "10.00"}}  # fmt: skip
H1 = re.compile(r"<h1>(.*?)</h1>", re.S)


@pytest.fixture
def shopify() -> Iterator[tuple[FakeShopify, str]]:
    admin_schema()
    fake = FakeShopify()
    with serving(fake) as url:
        yield fake, origin_of(url)


@pytest.fixture
def woo() -> Iterator[FakeWooCommerce]:
    with FakeWooCommerce() as fake:
        yield fake


@pytest.fixture
def app(settings: Settings, engine: Engine, shopify: tuple[FakeShopify, str]) -> Iterator[Flask]:
    changed = dataclasses.replace(
        settings, shopify_shop_origin=shopify[1], link_miss_limit_per_ip=3,
        claim_limit_per_email=3, claim_limit_per_ip=5,
    )  # fmt: skip
    yield from built_app(changed)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return browser(app)


def browser(app: Flask) -> FlaskClient:
    """A friend's browser: its own cookies and IP address (the guard counts per IP)."""
    client = app.test_client()
    client.environ_base.update(
        REMOTE_ADDR=f"2001:db8::{uuid.uuid4().hex[:4]}", HTTP_USER_AGENT=BROWSER
    )
    return client


@dataclasses.dataclass(frozen=True)
class Link:
    shop_id: int
    program_id: int
    public_id: str
    code: str  # the advocate's
    advocate_email: str = "ana@example.com"


def a_link(app: Flask, program: dict[str, Any], woo: FakeWooCommerce | None = None) -> Link:
    """A shop (Shopify, or the WooCommerce fake) with one program and one advocate."""
    services = app_services(app)
    with services.sessions.begin() as session:
        if woo is None:
            platform, domain = Platform.SHOPIFY, f"s-{uuid.uuid4().hex[:10]}.myshopify.com"
            credentials = {"access_token": TOKEN}
        else:
            platform, domain = Platform.WOOCOMMERCE, woo.url
            credentials = {"consumer_key": woo.consumer_key, "consumer_secret": woo.consumer_secret}
        shop = add_shop(
            session, platform=platform, domain=domain, currency="USD", credentials=credentials,
            box=services.box, name="Bella Ceramics", now=NOW,
        )  # fmt: skip
        created = create_program(session, shop.id, program, now=NOW)
        public_id = session.scalars(
            select(ProgramRow.public_id).where(ProgramRow.id == created.id)
        ).one()
        advocate = enroll_advocate(
            session, shop.id, created.id, email="ana@example.com", first_name="Ana", now=NOW
        )
        return Link(shop.id, created.id, public_id, advocate.code)


def rows(app: Flask, model: Any, shop_id: int) -> list[Any]:
    with app_services(app).sessions.begin() as session:
        return list(session.scalars(select(model).where(model.shop_id == shop_id)))


def h1(response: Any) -> str:
    return H1.search(response.get_data(as_text=True)).group(1).strip()


def cookie_header(response: Any, name: str) -> str | None:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(f"{name}="):
            return header
    return None


def claim_form(client: FlaskClient, code: str) -> str:
    page = client.get(f"/r/{code}").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def claim(client: FlaskClient, code: str, email: str, **headers: str) -> Any:
    data = {"csrf_token": claim_form(client, code), "email": email}
    return client.post(f"/r/{code}", data=data, headers=headers)


def friend_code(app: Flask, shop_id: int) -> Code:
    (code,) = [c for c in rows(app, Code, shop_id) if c.kind is CodeKind.FRIEND]
    return code


# --- shared codes ------------------------------------------------------------------------------


def test_a_shopify_link_applies_the_code_through_the_stores_discount_link(
    app: Flask, client: FlaskClient, shopify: tuple[FakeShopify, str]
) -> None:
    fake, origin = shopify
    link = a_link(app, TWO_SIDED)
    typed = link.code.lower().replace("-", " ")  # any case, spaces: the same code

    answer = client.get(f"/r/{typed}")

    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    assert f"{target.scheme}://{target.netloc}" == origin
    assert target.path == f"/discount/{link.code}"
    assert parse_qs(target.query) == {"redirect": [f"/?ref={link.code}"]}
    assert "redirect=%2F%3Fref%3D" in target.query  # the path is one encoded parameter
    assert fake.by_code(link.code) is not None  # in the store before the friend gets there
    (click,) = rows(app, Click, link.shop_id)
    assert click.landing_url == answer.headers["Location"] and click.user_agent == BROWSER
    # the store applies it: the fake storefront follows Shopify's discount link contract
    store = fake.storefront(target.path + "?" + target.query, None)
    assert store[0] == 302 and store[1]["Location"] == f"/?ref={link.code}"


def test_the_click_keeps_a_keyed_hash_of_the_ip_and_sets_the_ref_cookie(
    app: Flask, shopify: tuple[FakeShopify, str]
) -> None:
    link = a_link(app, TWO_SIDED)
    plain, secure = browser(app), browser(app)
    plain.environ_base["REMOTE_ADDR"] = "203.0.113.77"

    cookies = [
        cookie_header(plain.get(f"/r/{link.code}"), "rp_ref"),
        cookie_header(secure.get(f"/r/{link.code}", base_url="https://referrals.test"), "rp_ref"),
    ]

    stored = [c for c in rows(app, Click, link.shop_id) if c.ip_hash is not None]
    assert len(stored) == 2
    values = [str(getattr(c, column.key)) for c in stored for column in Click.__table__.columns]
    assert not any("203.0.113.77" in value for value in values)  # never the raw IP
    assert all(re.fullmatch(r"[0-9a-f]{40}", c.ip_hash) for c in stored)
    for header in cookies:
        assert header.startswith(f"rp_ref={link.code};")
        assert "Max-Age=2592000" in header and "HttpOnly" in header
        assert "SameSite=Lax" in header and "Path=/" in header
    assert "Secure" not in cookies[0] and "Secure" in cookies[1]


@pytest.mark.parametrize(
    ("label", "method", "headers"),
    [
        ("HEAD", "HEAD", {}),
        ("a chat app's preview", "GET", {"User-Agent": "WhatsApp/2.24.1.6 A"}),
        ("a social preview", "GET",
         {"User-Agent": "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"}),
        ("a crawler", "GET", {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}),
        ("Slack's unfurler", "GET", {"User-Agent": "Slackbot-LinkExpanding 1.0"}),
        ("a browser's prefetch", "GET", {"Sec-Purpose": "prefetch;prerender"}),
    ],
)  # fmt: skip
def test_no_click_for_head_previews_and_prefetches(
    app: Flask, client: FlaskClient, label: str, method: str, headers: dict[str, str]
) -> None:
    link = a_link(app, TWO_SIDED)
    answer = client.open(f"/r/{link.code}", method=method, headers=headers)
    assert answer.status_code == 302, label
    assert rows(app, Click, link.shop_id) == [], label


def test_repeat_clicks_from_one_browser_count_once(app: Flask, client: FlaskClient) -> None:
    link = a_link(app, TWO_SIDED)
    for _ in range(3):
        client.get(f"/r/{link.code}")
    browser(app).get(f"/r/{link.code}")  # another friend
    assert len(rows(app, Click, link.shop_id)) == 2


def test_a_program_without_a_store_discount_goes_to_the_store_with_the_ref(
    app: Flask, client: FlaskClient, shopify: tuple[FakeShopify, str]
) -> None:
    fake, origin = shopify
    link = a_link(app, ONE_SIDED)
    answer = client.get(f"/r/{link.code}")
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"{origin}/?ref={link.code}"
    assert fake.discounts == {}
    assert len(rows(app, Click, link.shop_id)) == 1


def test_a_woocommerce_link_shows_the_code_to_copy_and_the_store_with_the_ref(
    app: Flask, client: FlaskClient, woo: FakeWooCommerce
) -> None:
    link = a_link(app, TWO_SIDED, woo)
    answer = client.get(f"/r/{link.code}")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert h1(answer) == "Your friend gives you 15% off at Bella Ceramics"
    assert f'id="friend_code" class="link code-field" type="text" readonly value="{link.code}"' in (
        html
    )
    assert '<label for="friend_code">' in html and 'id="copy"' in html
    assert f'href="{woo.url}/?ref={link.code}"' in html
    coupon = woo.coupon_by_code(link.code)
    assert coupon is not None and coupon["amount"] == "15.00"
    assert "will work in the store" not in html
    (click,) = rows(app, Click, link.shop_id)
    assert click.landing_url == f"{woo.url}/?ref={link.code}"


def test_the_friend_is_not_told_the_advocates_milestone(
    app: Flask, client: FlaskClient, woo: FakeWooCommerce
) -> None:
    """ "Your reward comes with your friend number 3" is the advocate's business: the friend's
    landing page says what the friend gets, and on what orders."""
    tiered = {
        **TWO_SIDED, "kind": "tiered", "advocate_reward": None,
        "milestones": [{"count": 3, "reward": {"kind": "fixed_discount", "amount": "25.00"}}],
        "conditions": {"minimum_subtotal": "40.00"},
    }  # fmt: skip
    link = a_link(app, tiered, woo)

    html = client.get(f"/r/{link.code}").get_data(as_text=True)
    share = client.get(f"/p/{link.public_id}/join").get_data(as_text=True)

    assert "Your reward comes with your friend number 3." in share  # the advocate's page
    assert "friend number" not in html
    assert "On orders of $40 or more." in html


def test_a_code_the_store_cannot_take_now_is_shown_with_when_it_will_work(
    app: Flask, client: FlaskClient, woo: FakeWooCommerce
) -> None:
    woo.fail_next(503, retry_after="120", method="POST", path="coupons/batch")
    link = a_link(app, TWO_SIDED, woo)
    answer = client.get(f"/r/{link.code}")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Your code will work in the store from about" in html and link.code in html
    assert woo.coupon_by_code(link.code) is None
    (code,) = [c for c in rows(app, Code, link.shop_id) if c.kind is CodeKind.ADVOCATE]
    assert code.store_next_attempt_at is not None and code.store_synced_at is None


# --- not found, and the guard against guessing ---------------------------------------------


def test_dead_links_answer_the_same_translated_404(app: Flask, client: FlaskClient) -> None:
    link = a_link(app, TWO_SIDED)
    blocked, paused = a_link(app, TWO_SIDED), a_link(app, TWO_SIDED)
    with app_services(app).sessions.begin() as session:
        session.execute(
            update(Advocate).where(Advocate.shop_id == blocked.shop_id)
            .values(status=AdvocateStatus.BLOCKED)
        )  # fmt: skip
        session.execute(
            update(ProgramRow).where(ProgramRow.id == paused.program_id)
            .values(status=ProgramStatus.INACTIVE)
        )  # fmt: skip
    pages = [
        client.get(f"/r/{code}?lang=ro") for code in ("NOPE-7Q2K-9XPA", blocked.code, paused.code)
    ]
    assert {page.status_code for page in pages} == {404}
    assert {h1(page) for page in pages} == {"Acest link nu funcționează"}
    assert len({page.get_data() for page in pages}) == 1  # nothing tells them apart
    assert browser(app).get(f"/r/{link.code}").status_code == 302


def test_too_many_unknown_codes_from_one_ip_stop_every_lookup_for_the_hour(
    app: Flask, client: FlaskClient
) -> None:
    link = a_link(app, TWO_SIDED)
    guesses = [client.get(f"/r/GUESS-{n}AAA-BBBB") for n in range(3)]
    assert [g.status_code for g in guesses] == [404, 404, 404]

    blocked = client.get(f"/r/{link.code}")  # a real code answers the same as a guess now
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 3600
    assert client.get("/r/GUESS-9AAA-BBBB").status_code == 429
    assert client.post(f"/r/{link.code}", data={}).status_code == 429
    assert browser(app).get(f"/r/{link.code}").status_code == 302  # per IP
    assert rows(app, Click, link.shop_id)[0].ip_hash is not None


# --- the advocate's own link ---------------------------------------------------------------------


def open_share_page(app: Flask, client: FlaskClient, link: Link, email: str) -> Any:
    join = client.get(f"/p/{link.public_id}/join").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', join).group(1)
    joined = client.post(f"/p/{link.public_id}/join", data={"csrf_token": token, "email": email})
    return client.get(joined.headers["Location"])


def test_the_advocate_s_own_link_shows_it_as_theirs_with_no_discount_and_no_click(
    app: Flask, client: FlaskClient, shopify: tuple[FakeShopify, str]
) -> None:
    link = a_link(app, TWO_SIDED)
    share = open_share_page(app, client, link, link.advocate_email)
    own_cookie = cookie_header(share, "rp_own")
    assert own_cookie is not None and "Path=/r/" in own_cookie and "HttpOnly" in own_cookie

    answer = client.get(f"/r/{link.code}")

    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and h1(answer) == "This is your own link"
    assert f'value="https://referrals.example.test/r/{link.code}"' in html
    share_page = re.search(r'id="share_page" href="([^"]+)"', html).group(1)
    assert client.get(share_page).status_code == 200  # every way to share it, one tap away
    assert "/discount/" not in html and cookie_header(answer, "rp_ref") is None
    assert rows(app, Click, link.shop_id) == []
    assert browser(app).get(f"/r/{link.code}").status_code == 302  # a friend's browser


def test_a_forged_own_link_cookie_is_ignored(app: Flask, client: FlaskClient) -> None:
    link = a_link(app, TWO_SIDED)
    client.set_cookie("rp_own", f'["{link.code}"]', path="/r/")
    assert client.get(f"/r/{link.code}").status_code == 302


# --- per-friend claims --------------------------------------------------------------------------


def test_a_per_friend_link_shows_the_claim_form_and_counts_the_click(
    app: Flask, client: FlaskClient
) -> None:
    link = a_link(app, PER_FRIEND)
    answer = client.get(f"/r/{link.code}")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert h1(answer) == "Your friend gives you 15% off at Bella Ceramics"
    assert '<label for="email">Email</label>' in html and 'name="csrf_token"' in html
    assert 'autocomplete="email"' in html and 'type="email"' in html
    assert len(rows(app, Click, link.shop_id)) == 1
    assert cookie_header(answer, "rp_ref") is not None
    persian = client.get(f"/r/{link.code}?lang=fa").get_data(as_text=True)
    assert '<html lang="fa" dir="rtl">' in persian


def test_a_shopify_claim_is_a_single_use_code_in_the_store_before_the_redirect(
    app: Flask, client: FlaskClient, shopify: tuple[FakeShopify, str]
) -> None:
    fake, origin = shopify
    link = a_link(app, PER_FRIEND)

    answer = claim(client, link.code, "  Bea.Friend+shop@Example.com ")

    code = friend_code(app, link.shop_id)
    assert re.fullmatch(r"FR-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", code.code)
    assert answer.status_code == 303
    assert answer.headers["Location"] == (
        f"{origin}/discount/{code.code}?redirect=%2F%3Fref%3D{code.code}"
    )
    discount = fake.by_code(code.code)
    assert discount is not None and discount["title"] == f"Referral friend code {code.code}"
    sent = discount["input"]
    assert (sent["usageLimit"], sent["appliesOncePerCustomer"]) == (1, True)
    assert sent["context"] == {"all": "ALL"}  # no customer with that email yet
    assert sent["customerGets"]["value"] == {"percentage": 0.15}
    assert fake.calls_to("customerByIdentifier") == [{"email": "bea.friend+shop@example.com"}]
    assert (code.friend_email, code.store_email) == ("bea.friend@example.com", None)
    assert code.store_synced_at is not None and code.advocate_id is not None
    (row,) = rows(app, Claim, link.shop_id)
    assert (row.identity_email, row.code_id) == ("bea.friend@example.com", code.id)
    assert browser(app).get(f"/r/{code.code}").status_code == 404  # a friend's code is no link


def test_a_shopify_claim_is_bound_to_the_customer_with_that_email(
    app: Flask, client: FlaskClient, shopify: tuple[FakeShopify, str]
) -> None:
    fake, _ = shopify
    fake.customers["cid@example.com"] = "gid://shopify/Customer/7001"
    link = a_link(app, PER_FRIEND)
    claim(client, link.code, "Cid@example.com")
    discount = fake.by_code(friend_code(app, link.shop_id).code)
    assert discount["input"]["context"] == {"customers": {"add": ["gid://shopify/Customer/7001"]}}


def test_the_same_inbox_claims_once_and_gets_the_same_code(
    app: Flask, client: FlaskClient, shopify: tuple[FakeShopify, str]
) -> None:
    fake, _ = shopify
    link = a_link(app, PER_FRIEND)
    first = claim(client, link.code, "bea@example.com")
    again = claim(browser(app), link.code, "BEA+again@example.com")
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    assert len(rows(app, Claim, link.shop_id)) == 1
    assert len(fake.calls_to("discountCodeBasicCreate")) == 1


def test_a_woocommerce_claim_is_a_coupon_for_that_email_shown_on_the_landing_page(
    app: Flask, client: FlaskClient, woo: FakeWooCommerce
) -> None:
    link = a_link(app, PER_FRIEND, woo)

    answer = claim(client, link.code, "Bea@Example.com")

    code = friend_code(app, link.shop_id)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and h1(answer) == "Your code is ready"
    assert f'readonly value="{code.code}"' in html
    assert "It works once, with the email address you entered." in html
    assert f'href="{woo.url}/?ref={code.code}"' in html
    coupon = woo.coupon_by_code(code.code)
    assert coupon["email_restrictions"] == ["bea@example.com"]
    assert (coupon["usage_limit"], coupon["usage_limit_per_user"]) == (1, 1)
    assert coupon["meta_data"][0]["key"] == "referral_plugin_friend_code_id"
    assert coupon["meta_data"][0]["value"] == str(code.id)
    assert code.store_email is None and code.store_synced_at is not None


def test_a_claim_while_the_store_is_down_keeps_the_code_queued_and_says_when(
    app: Flask, client: FlaskClient, woo: FakeWooCommerce
) -> None:
    link = a_link(app, PER_FRIEND, woo)
    woo.fail_next(503, retry_after="120", method="POST", path="coupons")

    answer = claim(client, link.code, "bea@example.com")

    code = friend_code(app, link.shop_id)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and h1(answer) == "Your code is almost ready"
    assert "Your code will work in the store from about" in html and code.code in html
    assert woo.coupon_by_code(code.code) is None
    assert code.store_email == "bea@example.com" and code.store_synced_at is None
    assert code.store_next_attempt_at is not None and "status=503" in code.store_error


def test_a_claim_needs_the_form_token_and_a_real_email(app: Flask, client: FlaskClient) -> None:
    link = a_link(app, PER_FRIEND)
    forged = client.post(f"/r/{link.code}", data={"csrf_token": "x", "email": "bea@example.com"})
    assert forged.status_code == 400
    assert "The form expired. Please send it again." in forged.get_data(as_text=True)
    bad = claim(client, link.code, "bea@")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'aria-invalid="true" aria-describedby="email_error"' in html
    assert '<p id="email_error" class="error">Please enter an email address' in html
    assert 'value="bea@"' in html
    assert rows(app, Claim, link.shop_id) == []


def test_the_advocate_s_own_email_gets_no_code(app: Flask, client: FlaskClient) -> None:
    link = a_link(app, PER_FRIEND)
    answer = claim(client, link.code, "ANA+friend@example.com")  # the advocate's inbox
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "This is the email address of the person who shared this link." in html
    assert rows(app, Claim, link.shop_id) == []
    assert [c.kind for c in rows(app, Code, link.shop_id)] == [CodeKind.ADVOCATE]


def test_the_advocate_s_own_browser_cannot_claim(app: Flask, client: FlaskClient) -> None:
    link = a_link(app, PER_FRIEND)
    open_share_page(app, client, link, link.advocate_email)
    data = {"csrf_token": "irrelevant", "email": "someone@example.com"}
    answer = client.post(f"/r/{link.code}", data=data)
    assert answer.status_code == 200 and h1(answer) == "This is your own link"
    assert rows(app, Claim, link.shop_id) == []


def test_claims_are_rate_limited_per_email_and_per_ip(app: Flask, client: FlaskClient) -> None:
    link = a_link(app, PER_FRIEND)
    answers = [claim(browser(app), link.code, "bea@example.com").status_code for _ in range(4)]
    assert answers == [303, 303, 303, 429]
    many = [claim(client, link.code, f"f{n}@example.com") for n in range(6)]
    assert [a.status_code for a in many] == [303] * 5 + [429]
    assert "Please try again after" in many[-1].get_data(as_text=True)
    assert int(many[-1].headers["Retry-After"]) > 0


def test_posting_to_a_shared_code_link_goes_back_to_the_link(
    app: Flask, client: FlaskClient
) -> None:
    link = a_link(app, TWO_SIDED)
    answer = client.post(f"/r/{link.code}", data={"email": "bea@example.com"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/r/{link.code}")
