"""The dashboard's program pages through the Flask test client: sign-in and CSRF required,
another shop's program answers 404, the defaults launch an active two-sided program, every kind
can be set up, an invalid form comes back 422 with each message at its input and the values
kept, editing keeps the parts the form does not show, pause and resume, and the live preview
(the real shopper pages for the draft, or its errors) writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from referral_plugin.app import app_services
from referral_plugin.domain.events import Platform
from referral_plugin.domain.program_codec import program_to_dict
from referral_plugin.models import Advocate, AuditEntry, Click, Code, Program, Shop
from referral_plugin.services.programs import get_program, list_programs
from tests.dashboard_support import (
    ConnectedShop,
    app_on_own_database,
    connect_shop,
    csrf_from,
    flagged_referral,
    sign_in,
)
from tests.form_fields import form_fields
from tests.integration import builders as b

FORM = "program-form"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with app_on_own_database(tmp_path_factory.mktemp("dashboard-programs")) as own:
        yield own


@pytest.fixture
def shop(app: Flask, client: FlaskClient) -> ConnectedShop:
    """A WooCommerce shop (EUR) whose merchant is signed in on `client`."""
    connected = connect_shop(app)
    with app_services(app).sessions.begin() as session:
        session.get_one(Shop, connected.id).currency = "EUR"
    sign_in(app, client, connected.id)
    return connected


def new_form(client: FlaskClient, **changes: str | list[str]) -> MultiDict[str, str]:
    """The setup form as the browser would send it, with `changes` (a list sets every value)."""
    page = client.get("/admin/programs/new")
    assert page.status_code == 200
    return changed(form_fields(page.text, FORM), changes)


def edit_form(client: FlaskClient, program_id: int, **changes: str) -> MultiDict[str, str]:
    page = client.get(f"/admin/programs/{program_id}/edit")
    assert page.status_code == 200
    return changed(form_fields(page.text, FORM), changes)


def changed(fields: MultiDict[str, str], changes: dict[str, Any]) -> MultiDict[str, str]:
    for name, value in changes.items():
        fields.setlist(name, value if isinstance(value, list) else [value])
    return fields


def programs_of(app: Flask, shop_id: int) -> list[Any]:
    with app_services(app).sessions.begin() as session:
        return list_programs(session, shop_id)


def stored(app: Flask, shop_id: int, program_id: int) -> dict[str, Any]:
    with app_services(app).sessions.begin() as session:
        return program_to_dict(get_program(session, shop_id, program_id))


def rows(app: Flask) -> tuple[int, ...]:
    with app_services(app).sessions.begin() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (Program, Advocate, Code, Click, AuditEntry)
        )


def audit_actions(app: Flask, shop_id: int) -> list[tuple[str, str, str | None]]:
    with app_services(app).sessions.begin() as session:
        found = session.execute(
            select(AuditEntry.action, AuditEntry.actor, AuditEntry.subject_id)
            .where(AuditEntry.shop_id == shop_id)
            .order_by(AuditEntry.id)
        ).all()
    return [tuple(row) for row in found]


# --- who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/programs"),
        ("GET", "/admin/programs/new"),
        ("POST", "/admin/programs/new"),
        ("GET", "/admin/programs/1/edit"),
        ("POST", "/admin/programs/1/pause"),
        ("POST", "/admin/programs/preview"),
    ],
)
def test_without_a_session_the_pages_send_the_browser_to_sign_in(
    app: Flask, client: FlaskClient, method: str, path: str
) -> None:
    before = rows(app)
    response = client.open(path, method=method, data={"kind": "two_sided", "name": "x"})

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/login")
    assert rows(app) == before


def test_a_form_without_its_csrf_token_is_refused_and_nothing_is_created(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    fields = new_form(client, active="1")
    fields.pop("csrf_token")

    created = client.post("/admin/programs/new", data=fields)
    previewed = client.post("/admin/programs/preview", data=fields)

    assert created.status_code == 400 and "The form expired" in created.text
    assert previewed.status_code == 400
    assert programs_of(app, shop.id) == []


def test_another_shops_program_answers_404_and_stays_as_it_was(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    other = connect_shop(app)
    with app_services(app).sessions.begin() as session:
        theirs = b.program(session, other.id, b.TWO_SIDED)
    before = stored(app, other.id, theirs.id)
    csrf = csrf_from(client.get("/admin/programs/new").text)

    answers = [
        client.get(f"/admin/programs/{theirs.id}/edit"),
        client.post(f"/admin/programs/{theirs.id}/edit", data={"csrf_token": csrf, "name": "x"}),
        client.post(f"/admin/programs/{theirs.id}/pause", data={"csrf_token": csrf}),
        client.post(f"/admin/programs/{theirs.id}/preview", data={"csrf_token": csrf}),
    ]

    assert [answer.status_code for answer in answers] == [404, 404, 404, 404]
    assert "Not found" in answers[0].text
    assert stored(app, other.id, theirs.id) == before
    assert audit_actions(app, other.id) == []


# --- setting up ------------------------------------------------------------------------------


def test_a_shop_without_programs_lands_on_the_setup(
    client: FlaskClient, shop: ConnectedShop
) -> None:
    response = client.get("/admin/programs")

    assert response.status_code == 200
    assert "<h1>Set up a referral program</h1>" in response.text
    assert 'action="/admin/programs/new"' in response.text


def test_the_defaults_launch_an_active_two_sided_program_in_one_click(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    page = client.get("/admin/programs/new")
    assert "Give 15% off, get €10 off" in page.text  # the offer, as shoppers read it
    fields = form_fields(page.text, FORM)
    fields["active"] = "1"  # the "Launch this program now" button

    response = client.post("/admin/programs/new", data=fields)

    [program] = programs_of(app, shop.id)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/programs?created={program.id}")
    assert (program.kind.value, program.active, program.currency) == ("two_sided", True, "EUR")
    assert (program.friend_reward.kind.value, str(program.friend_reward.percent)) == (
        "percent_discount",
        "15",
    )
    assert (program.advocate_reward.kind.value, str(program.advocate_reward.amount)) == (
        "fixed_discount",
        "10",
    )
    assert program.hold_days == 30 and program.conditions.first_order_only
    assert program.claim_mode.value == "shared_code" and len(program.emails.enabled) == 6
    assert program.milestones == () and program.caps == ()
    assert audit_actions(app, shop.id) == [
        ("program.created", "merchant:owner@example.com", str(program.id))
    ]
    listed = client.get(response.headers["Location"]).text
    assert "“Refer a friend” is live." in listed and "Give 15% off, get €10 off" in listed


KIND_FORMS: list[tuple[str, dict[str, Any]]] = [
    ("one_sided", {"advocate_reward.kind": "store_credit", "advocate_reward.amount": "7.50"}),
    ("tiered", {"advocate_reward.kind": "", "friend_reward.kind": ""}),
    ("contest", {"conditions.ends_at": "2027-01-31"}),
    (
        "charity",
        {
            "advocate_reward.kind": "charity",
            "advocate_reward.charity": "Seas Trust",
            "advocate_reward.amount": "2",
        },
    ),
    ("points", {"advocate_reward.kind": "points", "advocate_reward.points": "500"}),
]


@pytest.mark.parametrize(("kind", "changes"), KIND_FORMS, ids=[kind for kind, _ in KIND_FORMS])
def test_every_kind_can_be_set_up(
    app: Flask, client: FlaskClient, shop: ConnectedShop, kind: str, changes: dict[str, Any]
) -> None:
    fields = new_form(client, kind=kind, active="1", **changes)

    response = client.post("/admin/programs/new", data=fields)

    assert response.status_code == 303, response.text
    [program] = programs_of(app, shop.id)
    assert program.kind.value == kind
    if kind == "one_sided":
        assert program.friend_reward is None and str(program.advocate_reward.amount) == "7.50"
    if kind == "tiered":
        assert [(m.count, str(m.reward.amount)) for m in program.milestones] == [
            (3, "10"),
            (5, "25"),
            (10, "50"),
        ]
        assert program.advocate_reward is None and program.friend_reward is None
    if kind == "contest":
        assert program.advocate_reward is None and program.milestones == ()
        assert program.conditions.ends_at.isoformat() == "2027-02-01T00:00:00+00:00"
    if kind == "charity":
        assert program.advocate_reward.charity == "Seas Trust"
    if kind == "points":
        assert program.advocate_reward.points == 500


def test_an_invalid_form_answers_422_with_each_message_at_its_input_and_the_values_kept(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    fields = new_form(
        client, **{"advocate_reward.amount": "-5", "hold_days": "a month", "name": "",
                   "conditions.allowed_countries": "us, Germany"},
    )  # fmt: skip

    response = client.post("/admin/programs/new", data=fields)

    assert response.status_code == 422
    page = response.text
    assert (
        'id="f-advocate_reward-amount" name="advocate_reward.amount" type="text" value="-5"' in page
    )
    assert (
        '<p class="field-error" id="f-advocate_reward-amount-error">The advocate\'s reward: '
        "Amount must be greater than 0" in page.replace("&#39;", "'")
    )
    assert (
        '<p class="field-error" id="f-hold_days-error">Hold period must be a whole number' in page
    )
    assert '<p class="field-error" id="f-name-error">Name is required' in page
    assert "&#39;GERMANY&#39; is not a 2-letter upper-case country code" in page
    assert 'value="a month"' in page and 'href="#f-hold_days"' in page  # the summary links
    assert programs_of(app, shop.id) == []


TAMPERED: list[tuple[str, dict[str, Any], str]] = [
    ("unknown kind", {"kind": "pyramid"}, "kind"),
    ("unknown claim mode", {"claim_mode": "everyone"}, "claim_mode"),
    ("unknown reward kind", {"friend_reward.kind": "gold"}, "friend_reward.kind"),
    ("unknown email", {"emails.enabled": ["invite", "spam"]}, "emails.enabled"),
    ("not a colour", {"appearance.color": "red"}, "appearance.color"),
    ("not a date", {"conditions.starts_at": "31/12/2026"}, "conditions.starts_at"),
    ("end before start", {"conditions.starts_at": "2026-05-02",
                          "conditions.ends_at": "2026-05-01"}, "conditions.ends_at"),
    ("cap of nothing", {"caps.0.limit": "3", "caps.0.scope": "planet"}, "caps.0.scope"),
    ("fractional count cap", {"caps.1.limit": "2.5"}, "caps.1.limit"),
    ("huge hold", {"hold_days": "99999999999999999999"}, "hold_days"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "field"), [(c, f) for _, c, f in TAMPERED], ids=[i for i, _, _ in TAMPERED]
)
def test_tampered_values_answer_422_at_their_input_never_500(
    client: FlaskClient, shop: ConnectedShop, changes: dict[str, Any], field: str
) -> None:
    fields = new_form(client, **changes)

    response = client.post("/admin/programs/new", data=fields)
    previewed = client.post("/admin/programs/preview", data=fields)

    assert response.status_code == 422
    assert f'id="f-{field.replace(".", "-")}-error"' in response.text
    assert previewed.status_code == 422
    assert field in {error["field"] for error in previewed.json["errors"]}


def test_an_id_past_bigint_is_not_found(client: FlaskClient, shop: ConnectedShop) -> None:
    assert client.get(f"/admin/programs/{2**63}/edit").status_code == 404


def test_a_milestone_error_lands_on_the_row_the_merchant_filled(
    client: FlaskClient, shop: ConnectedShop
) -> None:
    fields = new_form(
        client, kind="tiered",
        **{"milestones.0.count": "", "milestones.0.reward.kind": "",
           "milestones.1.count": "2", "milestones.1.reward.amount": "abc"},
    )  # fmt: skip

    response = client.post("/admin/programs/new", data=fields)

    assert response.status_code == 422
    assert 'id="f-milestones-1-reward-amount-error">Milestone 2: Amount must be a decimal' in (
        response.text
    )


def test_per_friend_codes_need_a_friend_reward_said_at_the_choice(
    client: FlaskClient, shop: ConnectedShop
) -> None:
    fields = new_form(client, kind="points", claim_mode="per_friend",
                      **{"advocate_reward.kind": "points", "advocate_reward.points": "100",
                         "friend_reward.kind": ""})  # fmt: skip

    response = client.post("/admin/programs/new", data=fields)

    assert response.status_code == 422
    assert 'id="f-claim_mode-error">How friends get the discount per_friend needs a friend' in (
        response.text
    )


# --- editing ---------------------------------------------------------------------------------


def test_editing_keeps_every_part_the_form_does_not_show(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    config = {
        **b.TWO_SIDED,
        "every_n": {"n": 4, "reward": {"kind": "cash", "amount": "20"}},
        "fraud_policy": {"same_ip": "reject", "disposable_email": "allow"},
        "copy": {"ro": {"headline": "Dă 15%, primește 20%"}},
        "partial_refund_policy": "reverse_below_minimum",
        "auto_enroll": True,
        "conditions": {"velocity_limit_per_day": 3, "product_ids": ["p-1"],
                       "starts_at": "2026-03-01T08:30:00Z"},
    }  # fmt: skip
    with app_services(app).sessions.begin() as session:
        program = b.program(session, shop.id, config)
    before = stored(app, shop.id, program.id)

    response = client.post(f"/admin/programs/{program.id}/edit", data=edit_form(
        client, program.id, name="Spring friends"))  # fmt: skip

    assert response.status_code == 303
    after = stored(app, shop.id, program.id)
    assert after == {**before, "name": "Spring friends"}  # the 08:30 start too
    assert audit_actions(app, shop.id)[-1][0] == "program.updated"


def test_an_edit_with_referrals_says_so_and_follows_the_same_rules(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    with app_services(app).sessions.begin() as session:
        outcome = flagged_referral(session, shop.id, order_id="5001")
        [program] = list_programs(session, shop.id)
    assert outcome.referral_status is not None  # a referral, whatever became of it
    page = client.get(f"/admin/programs/{program.id}/edit").text
    assert "This program has 1 referral." in page

    refused = client.post(f"/admin/programs/{program.id}/edit", data=edit_form(
        client, program.id, kind="two_sided", **{"friend_reward.kind": ""}))  # fmt: skip

    assert refused.status_code == 422
    assert "friend_reward is required" not in refused.text  # said at the input, in words
    assert "The friend&#39;s reward is required for a two_sided program" in refused.text
    assert stored(app, shop.id, program.id)["kind"] == "one_sided"


def test_pause_and_resume_go_through_the_service_with_an_audit_entry(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    with app_services(app).sessions.begin() as session:
        program = b.program(session, shop.id, b.ONE_SIDED)
        b.advocate(session, shop.id, program.id)
        b.advocate(session, shop.id, program.id, email="ben@example.com")
    page = client.get("/admin/programs").text
    assert '<td data-label="Advocates" class="number">2</td>' in page
    assert '<td data-label="Referrals" class="number">0</td>' in page
    csrf = csrf_from(page)

    paused = client.post(f"/admin/programs/{program.id}/pause", data={"csrf_token": csrf})
    listed = client.get(paused.headers["Location"]).text
    assert stored(app, shop.id, program.id)["active"] is False
    assert "“Give 10” is paused: saved." in listed and ">Resume</button>" in listed

    client.post(f"/admin/programs/{program.id}/resume", data={"csrf_token": csrf})
    assert stored(app, shop.id, program.id)["active"] is True
    assert [action for action, _, _ in audit_actions(app, shop.id)] == ["program.updated"] * 2


# --- the preview -----------------------------------------------------------------------------


def test_the_preview_renders_the_shopper_pages_for_the_draft_and_writes_nothing(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    fields = new_form(client, **{"friend_reward.percent": "25", "appearance.language": "ro"})
    before = rows(app)

    response = client.post("/admin/programs/preview", data=fields)

    assert response.status_code == 200
    answer = response.json
    assert answer["valid"] is True and answer["offer"] == "Give 25% off, get €10 off"
    assert 'lang="ro"' in answer["advocate_html"] and "ANNA7K2Q" in answer["advocate_html"]
    assert '<base target="_blank">' in answer["advocate_html"]
    assert "25" in answer["friend_html"] and "ANNA7K2Q" in answer["friend_html"]
    assert "with the code to use at checkout" in answer["friend_note"]
    assert rows(app) == before


def test_the_preview_shows_the_claim_form_for_codes_per_friend(
    client: FlaskClient, shop: ConnectedShop
) -> None:
    answer = client.post("/admin/programs/preview", data=new_form(
        client, claim_mode="per_friend")).json  # fmt: skip

    assert 'name="email"' in answer["friend_html"]
    assert "single-use code" in answer["friend_note"]


def test_an_invalid_draft_previews_its_errors_not_a_page(
    client: FlaskClient, shop: ConnectedShop
) -> None:
    response = client.post("/admin/programs/preview", data=new_form(
        client, **{"friend_reward.percent": "150"}))  # fmt: skip

    assert response.status_code == 422
    assert response.json["valid"] is False and "advocate_html" not in response.json
    assert response.json["errors"] == [
        {"field": "friend_reward.percent", "message": "must be greater than 0 and at most 100"}
    ]
    assert 'href="#f-friend_reward-percent"' in response.json["errors_html"]


def test_on_shopify_the_friend_lands_in_the_store_with_the_code_applied(app: Flask) -> None:
    shopify = connect_shop(app, Platform.SHOPIFY)
    client = app.test_client()
    sign_in(app, client, shopify.id)

    answer = client.post("/admin/programs/preview", data=new_form(client)).json

    assert answer["friend_html"] is None
    assert "already applied to their cart" in answer["friend_note"]
    assert f"{shopify.domain}/discount/ANNA7K2Q" in answer["friend_note"]


def test_an_edit_previews_the_stored_program_with_the_forms_changes(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    with app_services(app).sessions.begin() as session:
        program = b.program(session, shop.id, b.TWO_SIDED)
    fields = edit_form(client, program.id, **{"conditions.minimum_subtotal": "30"})

    answer = client.post(f"/admin/programs/{program.id}/preview", data=fields).json

    assert answer["offer"] == "Give 15% off, get 20% of the order in store credit"
    assert "€30" in answer["advocate_html"]
    assert stored(app, shop.id, program.id)["conditions"]["minimum_subtotal"] is None


def test_rewards_the_store_cannot_issue_are_marked_and_warned_of(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    page = client.get("/admin/programs/new").text
    fields = changed(form_fields(page, FORM), {"advocate_reward.kind": "store_credit"})

    answer = client.post("/admin/programs/preview", data=fields).json

    assert ">Store credit (your store cannot issue it)</option>" in page  # WooCommerce
    assert ">Amount off (a discount code)</option>" in page
    assert "Your store cannot issue store credit" in answer["summary_html"]
    shopify = connect_shop(app, Platform.SHOPIFY)
    other = app.test_client()
    sign_in(app, other, shopify.id)
    shopify_page = other.get("/admin/programs/new").text
    assert "cannot issue" not in shopify_page
    credit = changed(form_fields(shopify_page, FORM), {"advocate_reward.kind": "store_credit"})
    answer = other.post("/admin/programs/preview", data=credit).json
    assert "cannot issue" not in answer["summary_html"]


def test_a_tiered_program_without_milestones_is_told_at_the_milestones(
    client: FlaskClient, shop: ConnectedShop
) -> None:
    blank = {
        f"milestones.{row}.{name}": "" for row in range(3) for name in ("count", "reward.kind")
    }
    response = client.post("/admin/programs/new", data=new_form(client, kind="tiered", **blank))

    assert response.status_code == 422
    assert '<a href="#f-milestones">Milestones a tiered program needs at least one' in response.text
    assert 'id="f-milestones" tabindex="-1"' in response.text
