"""Shopify's mandatory compliance topics end to end: signed deliveries posted to
`/webhooks/shopify`, drained by the worker (`drain_inbox`), on a database of this module's own.

`customers/data_request` → one export per request id, readable through the admin API;
`customers/redact` → no column of any table keeps the customer's email, name, phone, address,
IP or user agent, while the shop's numbers stay the same; `shop/redact` → no row of the shop
left in any table. Every check that can be generic (tables, columns) reads the models' metadata,
so a table added later is covered.
"""

from __future__ import annotations

import copy
import json
import random
import string
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import JSON, Engine, LargeBinary, String, Text, func, select
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator, TypeEngine

from connectors.registry import CONNECTORS
from referral_plugin.app import AppServices, app_services, create_app
from referral_plugin.domain.decisions import CodeKind
from referral_plugin.domain.emails import identity_email
from referral_plugin.domain.events import Platform
from referral_plugin.inbox_worker import drain_inbox
from referral_plugin.models import (
    Advocate,
    Base,
    Claim,
    Click,
    Code,
    Conversion,
    DataRequest,
    DeliveryStatus,
    ExperimentAssignment,
    LedgerEntry,
    OutboxMessage,
    Redaction,
    Referral,
    Reward,
    Shop,
    WebhookDelivery,
)
from referral_plugin.services.advocates import enroll_advocate
from referral_plugin.services.audit import record_audit
from referral_plugin.services.outbox import enqueue_message
from referral_plugin.services.programs import create_program
from referral_plugin.services.shop_erasure import shop_owned_columns
from referral_plugin.services.shops import add_shop, issue_api_token
from referral_plugin.settings import Settings
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.inbox_support import (
    APP_SECRET,
    ORDER_SAMPLE,
    own_database,
    refund_body,
    shopify_headers,
)
from tests.integration.builders import TWO_SIDED
from tests.unit.connector_fixtures import raw

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


# --- the app, its own database, posting and draining ----------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    folder = tmp_path_factory.mktemp("compliance")
    with own_database(folder) as url:
        settings = Settings(
            database_url=url,
            secret_key="compliance-test-secret",
            encryption_key=TEST_ENCRYPTION_KEY,
            environment="test",
            instance_path=folder / "instance",
            shopify_api_secret=APP_SECRET,
        )
        flask_app = create_app(settings)
        flask_app.config["TESTING"] = True
        yield flask_app
        app_services(flask_app).engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def services(app: Flask) -> AppServices:
    return app_services(app)


def post(
    client: FlaskClient, domain: str, topic: str, payload: Any, *, event_id: str | None = None
) -> int:
    """POST a signed delivery to the webhook edge; returns the HTTP status."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = shopify_headers(domain, body, topic, event_id or uuid.uuid4().hex)
    return client.post("/webhooks/shopify", data=body, headers=headers).status_code


def drain(services: AppServices) -> int:
    """Run the worker's drain once (the edge stamps deliveries with the real clock)."""
    stop = threading.Event()
    clock = lambda: datetime.now(tz=UTC)  # noqa: E731
    return drain_inbox(services, worker="test", stop=stop, clock=clock, connectors=CONNECTORS)


# --- a shop with referral history around one customer ---------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    customer_id: int
    email: str
    first_name: str
    last_name: str
    phone: str
    street: str
    ip: str
    user_agent: str

    @property
    def personal_data(self) -> list[str]:
        """What must not survive a redaction (searched case-insensitively)."""
        return [
            self.email,
            self.first_name,
            self.last_name,
            self.phone,
            self.street,
            self.ip,
            self.user_agent,
            f"{self.first_name} {self.last_name}",
        ]


def new_person() -> Person:
    letters = "".join(random.choices(string.ascii_lowercase, k=7))
    token = uuid.uuid4().hex[:8]
    number = random.randint(10**12, 10**13)
    return Person(
        customer_id=number,
        email=f"{letters}.{token}@example.org",
        # 10 letters: the referral code keeps only the first 8, upper-cased (see the test).
        first_name=f"Zel{letters}",
        last_name=f"Marchetti{letters}",
        phone=f"+1 555 {random.randint(1000000, 9999999)}",
        street=f"{random.randint(10, 999)} Wisteria Lane {token}",
        ip=f"203.0.{random.randint(1, 250)}.{random.randint(1, 250)}",
        user_agent=f"Mozilla/5.0 ComplianceBrowser/{token}",
    )


def order_payload(order_id: int, buyer: Person, code: str) -> dict[str, Any]:
    """A Shopify order (the docs sample) placed and paid by `buyer` with `code`."""
    order: dict[str, Any] = copy.deepcopy(ORDER_SAMPLE)
    address = {
        "first_name": buyer.first_name,
        "last_name": buyer.last_name,
        "name": f"{buyer.first_name} {buyer.last_name}",
        "address1": buyer.street,
        "phone": buyer.phone,
        "city": "Ottawa",
        "zip": "K2H7A8",
        "country_code": "CA",
    }
    order.update(
        id=order_id,
        name=f"#{order_id}",
        financial_status="paid",
        test=False,
        cancelled_at=None,
        cancel_reason=None,
        created_at="2026-11-20T11:00:00Z",
        updated_at="2026-11-20T11:30:00Z",
        email=buyer.email,
        contact_email=buyer.email,
        phone=buyer.phone,
        browser_ip=buyer.ip,
        client_details={"browser_ip": buyer.ip, "user_agent": buyer.user_agent},
        discount_codes=[{"code": code, "amount": "10.00", "type": "fixed_amount"}],
        billing_address=address,
        shipping_address=address,
    )
    order["customer"] = {
        "id": buyer.customer_id,
        "email": buyer.email,
        "first_name": buyer.first_name,
        "last_name": buyer.last_name,
        "phone": buyer.phone,
        "default_address": address,
    }
    return order


# Both variants keep the program's offer: the test is about the assignment rows, not rewards.
AB_TEST = {
    "variants": [{"key": "a", "name": "A"}, {"key": "b", "name": "B"}],
    "started_at": "2026-01-01T00:00:00Z",
}


@dataclass(frozen=True, slots=True)
class World:
    """One shop: `person` is an advocate (code `person_code`) who also bought with Anna's code
    (order `own_order`, partly refunded), claimed a friend code, got an email; `friend` bought
    with the person's code (order `friend_order`)."""

    shop_id: int
    domain: str
    token: str
    program_id: int
    person: Person
    friend: Person
    advocate_id: int
    person_code: str
    own_order: int
    friend_order: int


def build_world(client: FlaskClient, services: AppServices) -> World:
    person, friend = new_person(), new_person()
    domain = f"privacy-{uuid.uuid4().hex[:10]}.myshopify.com"
    with services.sessions.begin() as session:
        shop = add_shop(
            session,
            platform=Platform.SHOPIFY,
            domain=domain,
            currency="USD",
            credentials={"access_token": "shpat_x", "installed_at": "2026-11-01T00:00:00+00:00"},
            box=services.box,
            email=f"owner-{uuid.uuid4().hex[:6]}@store.example",
            now=NOW,
        )
        token = issue_api_token(session, shop.id)
        program = create_program(session, shop.id, {**TWO_SIDED, "experiment": AB_TEST}, now=NOW)
        anna = enroll_advocate(
            session, shop.id, program.id, email="anna@example.com", now=NOW,
            random_value=lambda: 0.9,
        )  # fmt: skip
        mine = enroll_advocate(
            session,
            shop.id,
            program.id,
            email=person.email,
            first_name=person.first_name,
            last_name=person.last_name,
            customer_id=str(person.customer_id),
            now=NOW,
            random_value=lambda: 0.1,  # variant "a"
        )
        add_side_records(session, shop.id, program.id, anna.id, mine.id, person)
        shop_id, program_id = shop.id, program.id
    own_order, friend_order = random.randint(10**14, 10**15), random.randint(10**14, 10**15)
    assert post(client, domain, "orders/paid", order_payload(own_order, person, anna.code)) == 200
    assert (
        post(client, domain, "orders/paid", order_payload(friend_order, friend, mine.code)) == 200
    )
    refund = refund_body(own_order, random.randint(10**9, 10**10), "5.00")
    assert post(client, domain, "refunds/create", refund) == 200
    drain(services)
    return World(
        shop_id=shop_id,
        domain=domain,
        token=token,
        program_id=program_id,
        person=person,
        friend=friend,
        advocate_id=mine.id,
        person_code=mine.code,
        own_order=own_order,
        friend_order=friend_order,
    )


def add_side_records(
    session: Session, shop_id: int, program_id: int, anna_id: int, mine_id: int, person: Person
) -> None:
    """What no webhook creates yet: a friend code bound to the person and their claim of it, a
    click on the person's code, an email to them, and an audit entry about them."""
    identity = identity_email(person.email)
    friend_code = Code(
        shop_id=shop_id,
        program_id=program_id,
        advocate_id=anna_id,
        kind=CodeKind.FRIEND,
        code=f"FR-{uuid.uuid4().hex[:8].upper()}",
        normalized=f"FR{uuid.uuid4().hex[:8].upper()}",
        friend_email=identity,
        created_at=NOW,
    )
    session.add(friend_code)
    session.flush()
    session.add(
        Claim(
            shop_id=shop_id,
            program_id=program_id,
            advocate_id=anna_id,
            identity_email=identity,
            code_id=friend_code.id,
            claimed_at=NOW,
        )
    )
    own_code = session.scalars(select(Code).where(Code.advocate_id == mine_id)).one()
    session.add(
        Click(
            shop_id=shop_id,
            code_id=own_code.id,
            ip_hash="iphash-" + person.ip,
            user_agent=person.user_agent,
            landing_url="https://store.example/?ref=" + own_code.code,
            created_at=NOW,
        )
    )
    enqueue_message(
        session,
        shop_id=shop_id,
        kind="reward_earned",
        recipient=person.email,
        dedup_key=f"welcome:{mine_id}",
        subject=f"Thanks, {person.first_name}!",
        text=f"Hello {person.first_name} {person.last_name}, your friend ordered.",
        now=NOW,
    )
    record_audit(
        session,
        shop_id,
        actor="admin",
        action="advocate.updated",
        subject_type="advocate",
        subject_id=mine_id,
        details={"email": person.email, "phone": person.phone},
        now=NOW,
    )


@pytest.fixture
def world(client: FlaskClient, services: AppServices) -> World:
    return build_world(client, services)


def data_request_payload(world: World, request_id: int) -> dict[str, Any]:
    payload = json.loads(raw("shopify", "customers_data_request__docs_sample"))
    payload.update(shop_domain=world.domain, orders_requested=[world.own_order])
    payload["customer"] = {
        "id": world.person.customer_id,
        "email": world.person.email,
        "phone": world.person.phone,
    }
    payload["data_request"] = {"id": request_id}
    return payload


def redact_payload(world: World) -> dict[str, Any]:
    payload = json.loads(raw("shopify", "customers_redact__docs_sample"))
    payload.update(shop_domain=world.domain, orders_to_redact=[world.own_order])
    payload["customer"] = {
        "id": world.person.customer_id,
        "email": world.person.email.upper(),  # the store's spelling may differ
        "phone": world.person.phone,
    }
    return payload


# --- generic checks over every table --------------------------------------------------------


def _texty(kind: TypeEngine[Any]) -> bool:
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    return isinstance(kind, String | Text | JSON | LargeBinary)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def personal_data_left(engine: Engine, needles: list[str]) -> list[str]:
    """`table.column: needle` for every text, JSON or binary value of any table containing a
    needle (case-insensitive)."""
    lowered = [needle.lower() for needle in needles]
    hits = []
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if _texty(c.type)]
            if not columns:
                continue
            for row in connection.execute(select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    text = _as_text(value).lower()
                    hits += [f"{table.name}.{column.name}: {n}" for n in lowered if n in text]
    return hits


def shop_rows(engine: Engine, shop_id: int) -> dict[str, int]:
    """Rows per shop-owned table (found in the metadata) that belong to `shop_id`."""
    counts = {}
    with engine.connect() as connection:
        for table, column in shop_owned_columns():
            query = select(func.count()).select_from(table).where(column == shop_id)
            counts[table.name] = connection.execute(query).scalar_one()
        shops = Shop.__table__
        query = select(func.count()).select_from(shops).where(shops.c.id == shop_id)
        counts["shops"] = connection.execute(query).scalar_one()
    return counts


def aggregates(services: AppServices, shop_id: int) -> dict[str, Any]:
    """The merchant's numbers: rows per table, order totals, referral and reward statuses,
    reward values, advocate balances and counts, ledger amounts."""

    def rows(*columns: Any) -> list[tuple[Any, ...]]:
        model = columns[0].class_
        query = select(*columns).where(model.shop_id == shop_id).order_by(*columns)
        return [tuple(row) for row in session.execute(query)]

    with services.sessions.begin() as session:
        return {
            "rows": shop_rows(services.engine, shop_id),
            "orders": rows(
                Conversion.order_id,
                Conversion.subtotal,
                Conversion.total,
                Conversion.refunded_total,
                Conversion.paid,
                Conversion.cancelled,
                Conversion.outcome,
            ),
            "referrals": rows(Referral.id, Referral.status, Referral.code),
            "rewards": rows(Reward.id, Reward.status, Reward.value, Reward.points),
            "advocates": rows(
                Advocate.id, Advocate.balance, Advocate.points, Advocate.successful_referrals
            ),
            "ledger": rows(LedgerEntry.id, LedgerEntry.amount, LedgerEntry.unit),
        }


def statuses(services: AppServices, shop_id: int) -> dict[str, DeliveryStatus]:
    with services.sessions.begin() as session:
        rows = session.execute(
            select(WebhookDelivery.topic, WebhookDelivery.status).where(
                WebhookDelivery.shop_id == shop_id
            )
        )
        return {row.topic: row.status for row in rows}


def first_run_sanity(services: AppServices, world: World) -> None:
    """The world really holds the person's data before anything is erased."""
    assert set(statuses(services, world.shop_id).values()) == {DeliveryStatus.DONE}
    assert personal_data_left(services.engine, [world.person.ip, world.person.street])


# --- customers/data_request ------------------------------------------------------------------


def export_of(client: FlaskClient, world: World, data_request_id: int) -> dict[str, Any]:
    answer = client.get(
        f"/api/v1/data-requests/{data_request_id}",
        headers={"Authorization": f"Bearer {world.token}"},
    )
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_a_data_request_is_answered_with_everything_held_about_the_customer(
    client: FlaskClient, services: AppServices, world: World
) -> None:
    first_run_sanity(services, world)
    request_id = random.randint(10**6, 10**7)

    assert (
        post(
            client, world.domain, "customers/data_request", data_request_payload(world, request_id)
        )
        == 200
    )
    assert drain(services) == 1

    listed = client.get("/api/v1/data-requests", headers={"Authorization": f"Bearer {world.token}"})
    assert listed.status_code == 200
    (summary,) = listed.get_json()["data_requests"]
    assert (summary["request_id"], summary["status"]) == (str(request_id), "ready")
    assert "export" not in summary
    export = export_of(client, world, summary["id"])["export"]
    person = world.person
    assert export["customer"] == {
        "customer_id": str(person.customer_id),
        "email": person.email,
        "orders_requested": [str(world.own_order)],
    }
    (advocate,) = export["advocates"]
    assert (advocate["email"], advocate["first_name"], advocate["last_name"]) == (
        person.email,
        person.first_name,
        person.last_name,
    )
    assert advocate["variant"] == "a"
    (assignment,) = export["experiment_assignments"]
    assert {k: assignment[k] for k in ("program_id", "advocate_id", "variant", "source")} == {
        "program_id": world.program_id,
        "advocate_id": world.advocate_id,
        "variant": "a",
        "source": "api",
    }
    assert {c["kind"] for c in export["codes"]} == {"advocate", "friend"}
    assert world.person_code in {c["code"] for c in export["codes"]}
    assert [c["identity_email"] for c in export["claims"]] == [identity_email(person.email)]
    (click,) = export["clicks"]
    assert click["code"] == world.person_code and "ip_hash" not in click
    (order,) = export["orders"]  # their own order, bought with Anna's code
    assert (order["order_id"], order["total"], order["refunded_total"]) == (
        str(world.own_order),
        order["total"],
        "5.00",
    )
    as_advocate = [r for r in export["referrals"] if r["advocate_id"] == world.advocate_id]
    assert len(as_advocate) == 1 and len(export["referrals"]) == 2
    beneficiaries = {(r["beneficiary"], r["advocate_id"]) for r in export["rewards"]}
    assert ("advocate", world.advocate_id) in beneficiaries and ("friend", None) in beneficiaries
    assert export["ledger"] and {e["advocate_id"] for e in export["ledger"]} == {world.advocate_id}
    # The message the world queued, and the reward emails queued for them as advocate.
    assert {m["recipient"] for m in export["messages"]} == {person.email}
    assert "reward_earned" in {m["kind"] for m in export["messages"]}
    kinds = sorted(e["kind"] for e in export["order_events"])
    assert kinds == ["paid", "refunded"]
    assert export["order_events"][0]["data"]["signals"]["browser_ip"] == person.ip
    # Other people's data next to theirs stays out: the friend they referred, Anna.
    text = json.dumps(export)
    assert world.friend.email not in text and "anna@example.com" not in text


def test_the_merchant_is_told_once_and_a_redelivery_makes_no_second_export(
    client: FlaskClient, services: AppServices, world: World
) -> None:
    request_id = random.randint(10**6, 10**7)
    payload = data_request_payload(world, request_id)
    assert post(client, world.domain, "customers/data_request", payload, event_id="dr-1") == 200
    assert post(client, world.domain, "customers/data_request", payload, event_id="dr-1") == 200
    assert post(client, world.domain, "customers/data_request", payload, event_id="dr-2") == 200

    assert drain(services) == 2  # the same event id was stored once; the second id is a redelivery

    with services.sessions.begin() as session:
        requests = session.scalars(select(DataRequest).where(DataRequest.shop_id == world.shop_id))
        (request,) = list(requests)
        shop = session.get_one(Shop, world.shop_id)
        (message,) = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.shop_id == world.shop_id, OutboxMessage.kind == "data_request_ready"
            )
        )
        assert message.recipient == shop.email
        assert f"/api/v1/data-requests/{request.id}" in message.payload["text"]
        assert world.person.email not in json.dumps(message.payload)  # the email names nobody
    assert set(statuses(services, world.shop_id).values()) == {DeliveryStatus.DONE}


def test_another_shops_data_request_is_not_found(
    client: FlaskClient, services: AppServices, world: World
) -> None:
    other = build_world(client, services)
    post(client, world.domain, "customers/data_request", data_request_payload(world, 424242))
    drain(services)
    with services.sessions.begin() as session:
        mine = session.scalars(
            select(DataRequest.id).where(DataRequest.shop_id == world.shop_id)
        ).one()

    foreign = client.get(
        f"/api/v1/data-requests/{mine}", headers={"Authorization": f"Bearer {other.token}"}
    )
    listed = client.get("/api/v1/data-requests", headers={"Authorization": f"Bearer {other.token}"})
    anonymous = client.get(f"/api/v1/data-requests/{mine}")

    assert foreign.status_code == 404 and foreign.get_json()["error"] == "not_found"
    assert listed.get_json()["data_requests"] == []
    assert anonymous.status_code == 401
    bad_page = client.get(
        "/api/v1/data-requests?limit=0", headers={"Authorization": f"Bearer {world.token}"}
    )
    assert bad_page.status_code == 400 and bad_page.get_json()["errors"][0]["field"] == "limit"


# --- customers/redact ------------------------------------------------------------------------


def test_a_redaction_leaves_no_personal_data_in_any_table_and_the_numbers_unchanged(
    client: FlaskClient, services: AppServices, world: World
) -> None:
    person = world.person
    post(client, world.domain, "customers/data_request", data_request_payload(world, 777))
    drain(services)
    before = aggregates(services, world.shop_id)
    assert personal_data_left(services.engine, person.personal_data)

    assert post(client, world.domain, "customers/redact", redact_payload(world)) == 200
    assert drain(services) == 1

    assert personal_data_left(services.engine, person.personal_data) == []
    after = aggregates(services, world.shop_id)
    added = {"webhook_deliveries": 1, "redactions": 1}  # the redact delivery and its record
    assert after["rows"] == {t: n + added.get(t, 0) for t, n in before["rows"].items()}
    assert {**after, "rows": None} == {**before, "rows": None}
    assert set(statuses(services, world.shop_id).values()) == {DeliveryStatus.DONE}
    with services.sessions.begin() as session:
        (record,) = session.scalars(select(Redaction).where(Redaction.shop_id == world.shop_id))
        assert record.counts["advocates"] == 1 and record.counts["webhook_deliveries"] >= 4
        request = session.scalars(
            select(DataRequest).where(DataRequest.shop_id == world.shop_id)
        ).one()
        assert (request.status, request.export) == ("erased", None)
        advocate = session.get_one(Advocate, world.advocate_id)
        assert advocate.email.endswith("@redacted.invalid") and advocate.status == "blocked"
        # The A/B group stays (no personal data): the test's results do not change.
        assignment = session.scalars(
            select(ExperimentAssignment).where(
                ExperimentAssignment.advocate_id == world.advocate_id
            )
        ).one()
        assert (assignment.variant, advocate.variant) == ("a", "a")
        # The referral code keeps its upper-cased name prefix: it is live in the store.
        assert world.person_code.startswith(person.first_name[:8].upper())
    # The people next to them keep their data: only the redacted customer is erased.
    assert personal_data_left(services.engine, [world.friend.email, world.friend.street])


def test_a_redacted_advocate_is_never_matched_by_email_again(
    client: FlaskClient, services: AppServices, world: World
) -> None:
    post(client, world.domain, "customers/redact", redact_payload(world))
    drain(services)

    with services.sessions.begin() as session:
        again = enroll_advocate(
            session, world.shop_id, world.program_id, email=world.person.email, now=NOW
        )
        assert again.created and again.id != world.advocate_id
        friend_code = session.scalars(
            select(Code).where(Code.shop_id == world.shop_id, Code.kind == CodeKind.FRIEND)
        ).one()
        assert friend_code.friend_email.endswith("@redacted.invalid")
        message = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.shop_id == world.shop_id, OutboxMessage.kind == "reward_earned"
            )
        ).one()
        assert (message.status, message.payload) == ("dead", {"redacted": True})


def test_a_second_redaction_of_the_same_customer_records_once(
    client: FlaskClient, services: AppServices, world: World
) -> None:
    post(client, world.domain, "customers/redact", redact_payload(world), event_id="rd-1")
    drain(services)
    with services.sessions.begin() as session:
        first = session.scalars(select(Redaction).where(Redaction.shop_id == world.shop_id)).one()
        recorded = (first.id, first.counts)
    after_first = aggregates(services, world.shop_id)

    post(client, world.domain, "customers/redact", redact_payload(world), event_id="rd-2")
    assert drain(services) == 1

    with services.sessions.begin() as session:
        (again,) = session.scalars(select(Redaction).where(Redaction.shop_id == world.shop_id))
        assert (again.id, again.counts) == recorded
    after_second = aggregates(services, world.shop_id)
    after_first["rows"]["webhook_deliveries"] += 1  # the second delivery itself, nothing else
    assert after_second == after_first
    assert personal_data_left(services.engine, world.person.personal_data) == []


# --- shop/redact ------------------------------------------------------------------------------


def test_shop_redact_erases_every_row_of_the_shop_and_nothing_else(
    client: FlaskClient, services: AppServices, world: World
) -> None:
    neighbour = build_world(client, services)
    post(client, world.domain, "customers/data_request", data_request_payload(world, 31337))
    drain(services)
    neighbour_rows = shop_rows(services.engine, neighbour.shop_id)
    assert (
        post(
            client, world.domain, "app/uninstalled", raw("shopify", "app_uninstalled__docs_sample")
        )
        == 200
    )
    drain(services)
    assert shop_rows(services.engine, world.shop_id)["webhook_deliveries"] >= 5

    body = json.loads(raw("shopify", "shop_redact__docs_sample"))
    assert post(client, world.domain, "shop/redact", {**body, "shop_domain": world.domain}) == 200
    assert drain(services) == 1

    left = {table: n for table, n in shop_rows(services.engine, world.shop_id).items() if n}
    assert left == {}
    assert shop_rows(services.engine, neighbour.shop_id) == neighbour_rows
    assert personal_data_left(services.engine, world.person.personal_data) == []
    # Already gone: the store's redelivery finds no shop (the edge answers 401, see the report).
    assert post(client, world.domain, "shop/redact", body) == 401


def test_shop_redact_for_an_installed_shop_is_parked_and_erases_nothing(
    client: FlaskClient, services: AppServices, world: World
) -> None:
    before = shop_rows(services.engine, world.shop_id)
    body = {**json.loads(raw("shopify", "shop_redact__docs_sample")), "shop_domain": world.domain}

    post(client, world.domain, "shop/redact", body)
    drain(services)

    with services.sessions.begin() as session:
        parked = session.scalars(
            select(WebhookDelivery).where(
                WebhookDelivery.shop_id == world.shop_id, WebhookDelivery.topic == "shop/redact"
            )
        ).one()
        assert (parked.status, parked.next_attempt_at) == (DeliveryStatus.FAILED, None)
        assert "is installed (active)" in parked.last_error
    assert shop_rows(services.engine, world.shop_id) == {
        **before,
        "webhook_deliveries": before["webhook_deliveries"] + 1,
    }


def test_every_table_referencing_shop_owned_rows_has_its_own_shop_id() -> None:
    """shop/redact finds what to erase by `shop_id`; a table that hangs off a shop-owned table
    without one would be missed (and block the erasure with a foreign key)."""
    owned = {table for table, _ in shop_owned_columns()}
    for table in Base.metadata.sorted_tables:
        parents = {fk.column.table for fk in table.foreign_keys}
        if parents & owned:
            assert table in owned, f"{table.name} references shop-owned rows without shop_id"


def test_deliveries_queued_behind_shop_redact_leave_nothing_behind(
    client: FlaskClient, services: AppServices, world: World
) -> None:
    """The erasure deletes the shop's inbox rows too, also those the worker claimed in the
    same batch: they are skipped or come to nothing, and the batch still commits."""
    post(client, world.domain, "app/uninstalled", raw("shopify", "app_uninstalled__docs_sample"))
    drain(services)
    body = {**json.loads(raw("shopify", "shop_redact__docs_sample")), "shop_domain": world.domain}
    post(client, world.domain, "shop/redact", body)
    late = order_payload(random.randint(10**14, 10**15), new_person(), world.person_code)
    post(client, world.domain, "orders/paid", late)
    post(client, world.domain, "customers/redact", redact_payload(world))

    assert drain(services) == 3  # all three claimed in one batch, the erasure first

    assert {table: n for table, n in shop_rows(services.engine, world.shop_id).items() if n} == {}
