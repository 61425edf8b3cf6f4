"""The operations API through the Flask test client: referrals with their fraud findings, the
bulk review (per-id results, idempotent, never a 500 for what a client sends) and manual
balance adjustments (ledger + audit), each scoped to the token's shop."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from referral_plugin.app import app_services
from referral_plugin.models import Advocate, AuditEntry, LedgerEntry, LedgerKind
from referral_plugin.services.shops import issue_api_token
from tests.dashboard_support import (
    ConnectedShop,
    app_on_own_database,
    connect_shop,
    flagged_referral,
    referral_id_of,
)
from tests.integration import builders as b


class Api:
    """A test client speaking for one shop with its admin API token."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self.app, self.client = app, client
        self.shop: ConnectedShop = connect_shop(app)
        with app_services(app).sessions.begin() as session:
            self.token = issue_api_token(session, self.shop.id)

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any):
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            kwargs["json"] = body
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    def flagged(self, order_id: str) -> int:
        with app_services(self.app).sessions.begin() as session:
            outcome = flagged_referral(
                session, self.shop.id, order_id=order_id, email=f"a{order_id}@example.com"
            )
            return referral_id_of(session, outcome)

    def advocate(self) -> int:
        with app_services(self.app).sessions.begin() as session:
            program = b.program(session, self.shop.id, b.ONE_SIDED)
            return b.advocate(session, self.shop.id, program.id).id


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """Approved referrals' rewards mature in any later test's maturing job: a database of
    this module's own keeps them away."""
    with app_on_own_database(tmp_path_factory.mktemp("operations")) as own:
        yield own


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> Api:
    return Api(app, client)


@pytest.fixture
def other(app: Flask, client: FlaskClient) -> Api:
    return Api(app, client)


# --- referrals -------------------------------------------------------------------------------


def test_referrals_list_with_status_filter_and_fraud_findings(api: Api, other: Api) -> None:
    first, second = api.flagged("901"), api.flagged("902")
    other.flagged("903")

    page = api.call("GET", "/referrals?status=review&limit=1")
    rest = api.call("GET", "/referrals?status=review&limit=1&offset=1")
    converted = api.call("GET", "/referrals?status=converted")

    assert page.status_code == 200
    assert (page.json["limit"], page.json["offset"], page.json["has_more"]) == (1, 0, True)
    assert rest.json["has_more"] is False
    shown = page.json["referrals"] + rest.json["referrals"]
    assert {r["id"] for r in shown} == {first, second}
    referral = shown[0]
    assert referral["status"] == "review" and referral["currency"] == "USD"
    assert referral["total"] == "100.00"
    assert referral["fraud"][0]["check"] == "disposable_email"
    assert converted.json["referrals"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=lost", "status"), ("limit=0", "limit"), ("program_id=x", "program_id")],
)
def test_bad_referral_filters_name_the_parameter(api: Api, query: str, field: str) -> None:
    response = api.call("GET", f"/referrals?{query}")

    assert response.status_code in (400, 422)
    assert [error["field"] for error in response.json["errors"]] == [field]


# --- review ----------------------------------------------------------------------------------


def test_bulk_review_reports_per_id_and_is_idempotent(api: Api, other: Api) -> None:
    mine, theirs = api.flagged("911"), other.flagged("912")
    body = {"ids": [mine, theirs, 424242], "decision": "approve", "note": "checked"}

    first = api.call("POST", "/referrals/review", body)
    again = api.call("POST", "/referrals/review", body)

    assert first.status_code == again.status_code == 200
    assert first.json["results"] == [
        {"id": mine, "result": "approved", "status": "converted"},
        {"id": theirs, "result": "not_found", "status": None},
        {"id": 424242, "result": "not_found", "status": None},
    ]
    assert again.json["results"][0] == {
        "id": mine, "result": "already_decided", "status": "converted",
    }  # fmt: skip
    listed = other.call("GET", "/referrals?status=review").json["referrals"]
    assert [r["id"] for r in listed] == [theirs]  # another shop's referral is untouched


def test_rejecting_through_the_api_reverses_the_rewards(api: Api) -> None:
    referral_id = api.flagged("921")

    response = api.call("POST", "/referrals/review", {"ids": [referral_id], "decision": "reject"})

    assert response.json["results"] == [{"id": referral_id, "result": "rejected",
                                         "status": "rejected"}]  # fmt: skip
    listed = api.call("GET", "/referrals?status=rejected").json["referrals"]
    assert listed[0]["status_reason"] == "rejected_by_merchant"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"ids": [], "decision": "approve"}, ["ids"]),
        ({"ids": "1,2", "decision": "approve"}, ["ids"]),
        ({"ids": [1, True], "decision": "approve"}, ["ids"]),
        ({"ids": [1], "decision": ["approve"]}, ["decision"]),
        ({"ids": [1], "decision": "maybe"}, ["decision"]),
        ({"ids": [1], "decision": "reject", "note": 5}, ["note"]),
        ({"ids": [1], "decision": "reject", "why": "x"}, ["why"]),
        ({"ids": list(range(1, 102)), "decision": "reject"}, ["ids"]),
    ],
)
def test_a_review_request_that_cannot_be_read_names_its_fields(
    api: Api, body: dict[str, Any], fields: list[str]
) -> None:
    response = api.call("POST", "/referrals/review", body)

    assert response.status_code == 422
    assert [error["field"] for error in response.json["errors"]] == fields


def test_a_review_body_that_is_not_json_is_a_400(api: Api) -> None:
    response = api.client.post(
        "/api/v1/referrals/review", data="ids=1", headers={"Authorization": f"Bearer {api.token}"}
    )

    assert response.status_code == 400


# --- adjustments -----------------------------------------------------------------------------


def test_an_adjustment_posts_a_ledger_entry_and_an_audit_entry(api: Api) -> None:
    advocate_id = api.advocate()

    added = api.call("POST", f"/advocates/{advocate_id}/adjustments",
                     {"amount": "12.50", "reason": "Goodwill"})  # fmt: skip
    taken = api.call("POST", f"/advocates/{advocate_id}/adjustments",
                     {"amount": "-2.50", "reason": "Typo fix"})  # fmt: skip

    assert added.status_code == taken.status_code == 201
    assert (added.json["amount"], added.json["balance"], added.json["currency"]) == (
        "12.50", "12.50", "USD",
    )  # fmt: skip
    assert taken.json["balance"] == "10.00"
    with app_services(api.app).sessions.begin() as session:
        assert session.get(Advocate, advocate_id).balance == Decimal("10.00")
        entries = session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.advocate_id == advocate_id)
            .order_by(LedgerEntry.id)
        ).all()
        audit = session.scalars(
            select(AuditEntry).where(
                AuditEntry.shop_id == api.shop.id, AuditEntry.subject_id == str(advocate_id)
            )
        ).all()
    assert [(e.kind, e.amount, e.note) for e in entries] == [
        (LedgerKind.MANUAL, Decimal("12.50"), "Goodwill"),
        (LedgerKind.MANUAL, Decimal("-2.50"), "Typo fix"),
    ]
    assert [(a.actor, a.action, a.details["amount"]) for a in audit] == [
        ("admin-api", "advocate.balance_adjusted", "12.50"),
        ("admin-api", "advocate.balance_adjusted", "-2.50"),
    ]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"amount": "0", "reason": "x"}, ["amount"]),
        ({"amount": "1.005", "reason": "x"}, ["amount"]),
        ({"amount": "-1.00", "reason": "x"}, ["amount"]),  # the balance is 0
        ({"amount": 1.5, "reason": "x"}, ["amount"]),
        ({"amount": "ten", "reason": "x"}, ["amount"]),
        ({"amount": "NaN", "reason": "x"}, ["amount"]),
        ({"amount": "5", "reason": "   "}, ["reason"]),
        ({"amount": "5", "reason": "x" * 256}, ["reason"]),
        ({"amount": "5"}, ["reason"]),
        ({"amount": "5", "reason": "x", "note": "y"}, ["note"]),
    ],
)
def test_an_adjustment_that_cannot_be_made_names_its_field(
    api: Api, body: dict[str, Any], fields: list[str]
) -> None:
    advocate_id = api.advocate()

    response = api.call("POST", f"/advocates/{advocate_id}/adjustments", body)

    assert response.status_code == 422
    assert [error["field"] for error in response.json["errors"]] == fields


def test_another_shops_advocate_cannot_be_adjusted(api: Api, other: Api) -> None:
    theirs = other.advocate()

    response = api.call("POST", f"/advocates/{theirs}/adjustments",
                        {"amount": "5.00", "reason": "x"})  # fmt: skip

    assert response.status_code == 404
    assert other.call("GET", f"/advocates/{theirs}").json["balance"] == "0.00"


def test_the_operations_need_a_token(client: FlaskClient) -> None:
    assert client.get("/api/v1/referrals").status_code == 401
    assert client.post("/api/v1/referrals/review", json={}).status_code == 401
