"""The dashboard's A/B test form through the Flask test client: sign-in and CSRF required,
another shop's program answers 404, starting a test from the suggested offers (B gives friends
5 points more), changing weights, a refused removal of a variant advocates are in (409, in
words), ending a test behind a confirmation (results stay readable), invalid values answered
422 at their input with the values kept, and only the rewards the program's kind may vary."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from referral_plugin.app import app_services
from referral_plugin.domain.experiments import EnrollmentSource
from referral_plugin.domain.program_codec import program_to_dict
from referral_plugin.models import AuditEntry, ExperimentAssignment
from referral_plugin.services.advocates import enroll_advocate
from referral_plugin.services.programs import get_program
from tests.dashboard_support import (
    ConnectedShop,
    app_on_own_database,
    connect_shop,
    csrf_from,
    sign_in,
)
from tests.edge.test_dashboard_experiments import a_test
from tests.form_fields import form_fields
from tests.integration import builders as b

FORM = "experiment-form"
ACTOR = "merchant:owner@example.com"  # what `sign_in` starts the session as


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with app_on_own_database(tmp_path_factory.mktemp("experiment-setup")) as own:
        yield own


@pytest.fixture
def shop(app: Flask, client: FlaskClient) -> ConnectedShop:
    connected = connect_shop(app)
    sign_in(app, client, connected.id)
    return connected


def a_program(
    app: Flask, shop_id: int, config: dict[str, Any] = b.TWO_SIDED, name: str = "Spring"
) -> int:
    with app_services(app).sessions.begin() as session:
        return b.program(session, shop_id, config, name=name).id


def stored(app: Flask, shop_id: int, program_id: int) -> dict[str, Any]:
    with app_services(app).sessions.begin() as session:
        return program_to_dict(get_program(session, shop_id, program_id))


def shown_form(client: FlaskClient, program_id: int, **changes: str) -> MultiDict[str, str]:
    """The form as the browser sends it, with `changes` (dotted names, given as __ and _)."""
    page = client.get(f"/admin/experiments/{program_id}/setup")
    assert page.status_code == 200
    fields = form_fields(page.text, FORM)
    for name, value in changes.items():
        fields.setlist(name.replace("__", "."), [value])
    return fields


def error_at(html: str, name: str) -> str:
    """The message shown at the input `name` ("" when none)."""
    found = re.search(rf'id="f-{name.replace(".", "-")}-error">(.*?)</p>', html, re.S)
    return "" if found is None else found.group(1)


def audit_of(app: Flask, shop_id: int) -> list[tuple[str, str]]:
    with app_services(app).sessions.begin() as session:
        rows = session.execute(
            select(AuditEntry.action, AuditEntry.actor).where(AuditEntry.shop_id == shop_id)
        ).all()
    return [tuple(row) for row in rows]


# --- who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/setup"), ("POST", "/setup"), ("GET", "/end"), ("POST", "/end")],
)
def test_without_a_session_the_form_sends_the_browser_to_sign_in(
    app: Flask, client: FlaskClient, method: str, path: str
) -> None:
    owner = connect_shop(app)
    program_id = a_program(app, owner.id)

    response = client.open(f"/admin/experiments/{program_id}{path}", method=method, data={})

    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/login")
    assert stored(app, owner.id, program_id)["experiment"] is None


def test_a_form_without_its_csrf_token_changes_nothing(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    program_id = a_program(app, shop.id)
    fields = shown_form(client, program_id)
    fields.pop("csrf_token")

    started = client.post(f"/admin/experiments/{program_id}/setup", data=fields)

    assert started.status_code == 400 and "The form expired" in started.text
    assert stored(app, shop.id, program_id)["experiment"] is None


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/setup"), ("POST", "/setup"), ("GET", "/end"), ("POST", "/end")],
)
def test_another_shops_program_answers_404_and_keeps_its_test(
    app: Flask, client: FlaskClient, shop: ConnectedShop, method: str, path: str
) -> None:
    theirs = connect_shop(app)
    program_id = a_test(app, theirs.id)
    before = stored(app, theirs.id, program_id)
    own_form = shown_form(client, a_program(app, shop.id))

    response = client.open(f"/admin/experiments/{program_id}{path}", method=method, data=own_form)

    assert response.status_code == 404 and "Spring" not in response.text
    assert stored(app, theirs.id, program_id) == before


# --- start, change, end ----------------------------------------------------------------------


def test_the_suggested_test_compares_the_offer_with_five_points_more_for_friends(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    program_id = a_program(app, shop.id)

    page = client.get(f"/admin/experiments/{program_id}/setup")
    fields = form_fields(page.text, FORM)

    assert [fields[f"experiment.variants.{i}.name"] for i in range(3)] == ["A", "B", ""]
    assert fields["experiment.variants.0.friend_reward.kind"] == ""  # the program's own
    assert fields["experiment.variants.1.friend_reward.kind"] == "percent_discount"
    assert fields["experiment.variants.1.friend_reward.percent"] == "20"
    assert fields["experiment.holdout_percent"] == "0" and fields["experiment.ended_at"] == ""
    offers = re.findall(r"<strong data-variant-offer>(.*?)</strong>", page.text)
    assert offers == ["Give 15% off, get 20% of the order in store credit",
                      "Give 20% off, get 20% of the order in store credit"]  # fmt: skip
    assert "The friend gets (the program&#39;s own: 15% off)" in page.text


def test_preview_shows_the_offers_as_typed_and_saves_nothing(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    program_id = a_program(app, shop.id)
    fields = shown_form(client, program_id, experiment__variants__1__friend_reward__percent="30")
    fields["preview"] = "1"

    shown = client.post(f"/admin/experiments/{program_id}/setup", data=fields)
    fields["experiment.holdout_percent"] = "51"
    refused = client.post(f"/admin/experiments/{program_id}/setup", data=fields)

    assert shown.status_code == 200
    offers = re.findall(r"<strong data-variant-offer>(.*?)</strong>", shown.text)
    assert [offer.split(",")[0] for offer in offers] == ["Give 15% off", "Give 30% off"]
    assert "Your friend gives you 30% off" in shown.text  # B's friend page, in its frame
    assert refused.status_code == 422
    assert error_at(refused.text, "experiment.holdout_percent").startswith("Holdout must be")
    assert stored(app, shop.id, program_id)["experiment"] is None


def test_starting_a_test_sets_the_programs_experiment_audited_as_the_merchant(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    program_id = a_program(app, shop.id)
    fields = shown_form(client, program_id, experiment__holdout_percent="10")
    before = datetime.now(tz=UTC)

    saved = client.post(f"/admin/experiments/{program_id}/setup", data=fields)

    assert saved.status_code == 303
    assert saved.headers["Location"].endswith(f"/admin/experiments/{program_id}?done=started")
    experiment = stored(app, shop.id, program_id)["experiment"]
    a, bee = experiment["variants"]
    assert (a["key"], a["name"], a["weight"], a["friend_reward"]) == ("a", "A", 1, None)
    assert (bee["key"], bee["name"], bee["friend_reward"]["percent"]) == ("b", "B", "20")
    assert bee["advocate_reward"] is None
    assert experiment["holdout_percent"] == 10 and experiment["ended_at"] is None
    assert datetime.fromisoformat(experiment["started_at"]) >= before - timedelta(seconds=1)
    assert audit_of(app, shop.id)[-1] == ("program.updated", ACTOR)
    results = client.get(saved.headers["Location"])
    assert "The test has started." in results.text and "or the holdout (10%)" in results.text


def test_changing_the_weights_keeps_the_start_and_the_groups(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    program_id = a_test(app, shop.id)
    before = stored(app, shop.id, program_id)["experiment"]
    fields = shown_form(client, program_id, experiment__variants__1__weight="3")

    saved = client.post(f"/admin/experiments/{program_id}/setup", data=fields)

    assert saved.status_code == 303 and saved.headers["Location"].endswith("?done=changed")
    after = stored(app, shop.id, program_id)["experiment"]
    assert [v["weight"] for v in after["variants"]] == [1, 3]
    assert after == {**before, "variants": [before["variants"][0],
                                            {**before["variants"][1], "weight": 3}]}  # fmt: skip


def test_removing_a_variant_advocates_are_in_is_refused_in_words(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    program_id = a_test(app, shop.id)
    before = stored(app, shop.id, program_id)
    fields = shown_form(client, program_id, experiment__variants__1__remove="1")

    refused = client.post(f"/admin/experiments/{program_id}/setup", data=fields)

    assert refused.status_code == 409
    notice = re.sub(r"\s+", " ", re.search(r'id="refused".*?</div>', refused.text, re.S)[0])
    assert "Nothing was saved: advocates are already in the variant “Twenty in credit”." in notice
    assert "A variant with advocates has to stay" in notice
    assert 'name="experiment.variants.1.remove" value="1" id="f-experiment-variants-1-remove"\n' \
           '           checked' in refused.text  # fmt: skip
    assert stored(app, shop.id, program_id) == before


def test_the_refusal_names_only_the_removed_variants_advocates_are_in(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    program_id = a_program(app, shop.id)
    client.post(f"/admin/experiments/{program_id}/setup", data=shown_form(
        client, program_id, experiment__variants__2__name="C"))  # fmt: skip
    with app_services(app).sessions.begin() as session:
        joined = enroll_advocate(
            session, shop.id, program_id, email="bo@example.com", now=datetime.now(tz=UTC),
            source=EnrollmentSource.API, random_value=lambda: 0.5,  # a, b, c by thirds: b
        )  # fmt: skip
    assert joined.variant == "b"
    fields = shown_form(  # a one-variant test with a holdout is valid: only B's advocates stop it
        client, program_id, experiment__variants__1__remove="1",
        experiment__variants__2__remove="1", experiment__holdout_percent="10",
    )  # fmt: skip

    refused = client.post(f"/admin/experiments/{program_id}/setup", data=fields)

    assert refused.status_code == 409
    assert "advocates are already in the variant “B”." in re.sub(r"\s+", " ", refused.text)
    assert len(stored(app, shop.id, program_id)["experiment"]["variants"]) == 3


def test_a_variant_nobody_is_in_can_be_removed(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    program_id = a_program(app, shop.id)
    client.post(f"/admin/experiments/{program_id}/setup", data=shown_form(
        client, program_id, experiment__variants__2__name="C"))  # fmt: skip
    assert len(stored(app, shop.id, program_id)["experiment"]["variants"]) == 3

    fields = shown_form(client, program_id, experiment__variants__1__remove="1")
    saved = client.post(f"/admin/experiments/{program_id}/setup", data=fields)

    assert saved.status_code == 303
    variants = stored(app, shop.id, program_id)["experiment"]["variants"]
    assert [(v["key"], v["name"]) for v in variants] == [("a", "A"), ("c", "C")]


def test_ending_a_test_asks_first_then_sets_no_experiment_and_keeps_the_results(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    program_id = a_test(app, shop.id)
    results = client.get(f"/admin/experiments/{program_id}")
    assert f'href="/admin/experiments/{program_id}/end"' in results.text

    confirm = client.get(f"/admin/experiments/{program_id}/end")
    assert confirm.status_code == 200
    assert "Everyone then gets the program's own offer" in confirm.text.replace("&#39;", "'")
    assert "The results stay readable" in confirm.text
    assert stored(app, shop.id, program_id)["experiment"] is not None  # asking changes nothing
    ended = client.post(
        f"/admin/experiments/{program_id}/end", data={"csrf_token": csrf_from(confirm.text)}
    )

    assert ended.status_code == 303 and ended.headers["Location"].endswith(f"ended={program_id}")
    assert stored(app, shop.id, program_id)["experiment"] is None
    assert audit_of(app, shop.id)[-1] == ("program.updated", ACTOR)
    listing = client.get(ended.headers["Location"])
    assert "The A/B test of “Spring” has ended." in listing.text
    assert "Start an A/B test" in listing.text and "Results of the ended test" in listing.text
    readable = client.get(f"/admin/experiments/{program_id}")
    assert readable.status_code == 200 and "This test has ended" in readable.text
    groups = re.findall(r'<th scope="row" data-label="Group">([^<]*)', readable.text)
    assert [group.strip() for group in groups] == ["a", "b", "Holdout"]  # names went with it
    with app_services(app).sessions.begin() as session:
        kept = session.scalars(
            select(ExperimentAssignment.variant).where(
                ExperimentAssignment.program_id == program_id
            )
        ).all()
    assert sorted(kept) == ["a", "a", "a", "b", "b", "holdout"]


# --- invalid input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"experiment__holdout_percent": "60"}, "experiment.holdout_percent",
         "Holdout must be"),
        ({"experiment__variants__1__friend_reward__percent": "lots"},
         "experiment.variants.1.friend_reward.percent",
         "Variant 2: the friend&#39;s reward: Percent must be"),
        ({"experiment__variants__1__name": ""}, "experiment.variants.1.name",
         "Variant 2: Name is required"),
        ({"experiment__variants__0__weight": "0"}, "experiment.variants.0.weight",
         "Variant 1: Weight must be"),
        ({"experiment__ended_at": "2020-01-31"}, "experiment.ended_at",
         "Last day must be after started_at"),
        ({"experiment__variants__1__name": "", "experiment__variants__1__friend_reward__kind": ""},
         "experiment.variants", "Variants needs at least two variants"),
    ],
)  # fmt: skip
def test_invalid_values_come_back_422_at_their_input_with_the_values_kept(
    app: Flask, client: FlaskClient, shop: ConnectedShop, changes: dict[str, str], field: str,
    message: str,
) -> None:  # fmt: skip
    program_id = a_program(app, shop.id)
    fields = shown_form(client, program_id, **changes)

    answer = client.post(f"/admin/experiments/{program_id}/setup", data=fields)

    assert answer.status_code == 422
    assert error_at(answer.text, field).startswith(message), error_at(answer.text, field)
    assert "Nothing was saved." in answer.text
    assert form_fields(answer.text, FORM) == fields
    assert stored(app, shop.id, program_id)["experiment"] is None


# --- what may vary ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "offered"),
    [
        (b.TWO_SIDED, {"advocate_reward", "friend_reward"}),
        (b.ONE_SIDED, {"advocate_reward"}),
        ({"name": "Contest", "kind": "contest"}, set()),
    ],
    ids=["two_sided", "one_sided", "contest"],
)
def test_only_the_rewards_the_kind_may_vary_are_offered(
    app: Flask, client: FlaskClient, shop: ConnectedShop, config: dict[str, Any],
    offered: set[str],
) -> None:  # fmt: skip
    program_id = a_program(app, shop.id, config)

    page = client.get(f"/admin/experiments/{program_id}/setup")

    names = set(form_fields(page.text, FORM))
    shown = {side for side in ("advocate_reward", "friend_reward")
             if f"experiment.variants.1.{side}.kind" in names}  # fmt: skip
    assert shown == offered
    saved = client.post(f"/admin/experiments/{program_id}/setup", data=form_fields(page.text, FORM))
    assert saved.status_code == 303  # the suggested test is valid for every kind


def test_the_list_offers_a_test_for_each_program_without_one(
    app: Flask, client: FlaskClient, shop: ConnectedShop
) -> None:
    running = a_test(app, shop.id)
    idle = a_program(app, shop.id, b.ONE_SIDED, name="Autumn")

    listing = client.get("/admin/experiments").text

    assert f'href="/admin/experiments/{idle}/setup"' in listing
    assert 'aria-label="Start an A/B test of Autumn"' in listing
    assert f'href="/admin/experiments/{running}/setup"' in listing
    assert 'aria-label="Change the test of Spring"' in listing
