"""Every GraphQL document we send validates against the 2026-01 Admin schema (no deprecated
fields), and the variables our code builds coerce against its input types.

graphql-core: we keep 3.3 (what the venv resolves) and build the schema with
`assume_valid=True`, which skips 3.3's schema self-check (Shopify's SDL breaks its newer
"deprecated interface field" rule) but still runs every document rule in `specified_rules`.
`NoDeprecatedCustomRule` is added so a deprecated field or argument fails too. The SDL omits
deprecated input fields (e.g. `customerSelection`), so coercion rejects them as unknown.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from graphql import GraphQLSchema, parse, specified_rules, validate
from graphql.execution.values import get_variable_values
from graphql.language import OperationDefinitionNode
from graphql.validation import NoDeprecatedCustomRule

from connectors.shopify import documents
from connectors.shopify.connector import ShopifyConnector
from connectors.shopify.order_nodes import store_order
from connectors.shopify.reward_inputs import (
    FriendOffer,
    customer_tags,
    fraction,
    friend_discount,
    money_text,
    reward_discount,
    store_credit,
)
from referral_plugin.domain.codes import normalize_code
from referral_plugin.domain.events import OrderEvent, OrderEventKind
from referral_plugin.domain.programs import RewardKind
from referral_plugin.domain.store import RewardCodeRequest, StoreClientError
from tests.shopify_fake import admin_schema, graphql_order

START = datetime(2026, 11, 1, tzinfo=UTC)
RULES = [*specified_rules, NoDeprecatedCustomRule]


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return admin_schema()


def request(kind: RewardKind, **overrides: Any) -> RewardCodeRequest:
    values: dict[str, Any] = {
        "reward_id": 42,
        "code": "REF-7Q2K-9XPA",
        "kind": kind,
        "title": "Referral reward #42",
        "currency": "EUR",
        "starts_at": START,
        "customer_id": "115310627314723954",
    }
    return RewardCodeRequest(**{**values, **overrides})


def coercion_errors(schema: GraphQLSchema, document: str, variables: dict[str, Any]) -> list[Any]:
    """The errors of coercing `variables` (graphql-core returns a list on failure, the
    coerced values otherwise: a dict in 3.2, a VariableValues in 3.3)."""
    operation = next(
        d for d in parse(document).definitions if isinstance(d, OperationDefinitionNode)
    )
    result = get_variable_values(schema, operation.variable_definitions or (), variables)
    return result if isinstance(result, list) else []


@pytest.mark.parametrize("name", sorted(documents.ALL_DOCUMENTS))
def test_every_document_validates_against_the_schema(schema: GraphQLSchema, name: str) -> None:
    assert validate(schema, parse(documents.ALL_DOCUMENTS[name]), RULES) == []


def test_all_documents_lists_every_document_constant() -> None:
    constants = {
        name
        for name, value in vars(documents).items()
        if name.isupper()
        and isinstance(value, str)
        and value.lstrip().startswith(("query", "mutation"))
    }
    assert constants == set(documents.ALL_DOCUMENTS)


OFFER = FriendOffer(
    kind=RewardKind.PERCENT_DISCOUNT, title="Friends get 10%", starts_at=START, percent=Decimal(10)
)
CASES = [
    pytest.param(
        lambda: reward_discount(request(RewardKind.PERCENT_DISCOUNT, percent=Decimal(15))),
        id="percent reward",
    ),
    pytest.param(
        lambda: reward_discount(
            request(
                RewardKind.FIXED_DISCOUNT,
                amount=Decimal("10.00"),
                minimum_subtotal=Decimal("50"),
                expires_at=datetime(2026, 12, 31, tzinfo=UTC),
            )
        ),
        id="fixed reward with minimum and expiry",
    ),
    pytest.param(lambda: reward_discount(request(RewardKind.FREE_SHIPPING)), id="free shipping"),
    pytest.param(
        lambda: reward_discount(request(RewardKind.FREE_PRODUCT, product_id="632910392")),
        id="free product",
    ),
    pytest.param(
        lambda: reward_discount(
            request(RewardKind.FIXED_DISCOUNT, amount=Decimal(5), customer_id=None)
        ),
        id="reward without a known customer",
    ),
    pytest.param(lambda: friend_discount("RF-AAAA-BBBB-CCCC", OFFER), id="friend offer percent"),
    pytest.param(
        lambda: friend_discount(
            "RF-AAAA-BBBB-CCCD",
            FriendOffer(
                kind=RewardKind.FREE_SHIPPING,
                title="Free shipping",
                starts_at=START,
                minimum_subtotal=Decimal(30),
            ),
        ),
        id="friend offer free shipping",
    ),
    pytest.param(
        lambda: friend_discount(
            "RF-AAAA-BBBB-CCCE",
            FriendOffer(
                kind=RewardKind.FREE_PRODUCT,
                title="A free tote",
                starts_at=START,
                product_id="632910392",
                ends_at=datetime(2027, 1, 1, tzinfo=UTC),
            ),
        ),
        id="friend offer free product",
    ),
]


@pytest.mark.parametrize("build", CASES)
def test_discount_variables_coerce(schema: GraphQLSchema, build: Any) -> None:
    call = build()
    assert coercion_errors(schema, call.document, call.variables) == []


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        pytest.param(
            documents.CREDIT_STORE_CREDIT,
            store_credit(request(RewardKind.STORE_CREDIT, amount=Decimal("12.50"))),
            id="store credit",
        ),
        pytest.param(
            documents.ADD_CUSTOMER_TAGS,
            customer_tags(request(RewardKind.VIP, tag="VIP")),
            id="tags",
        ),
        pytest.param(
            documents.BULK_ADD_CODES,
            {"discountId": "gid://shopify/DiscountCodeNode/1", "codes": [{"code": "ANNA-7Q2K"}]},
            id="bulk add",
        ),
        pytest.param(
            documents.ORDERS_UPDATED_SINCE,
            {"query": "updated_at:>='2026-11-01T00:00:00Z'", "first": 5, "after": None},
            id="orders page",
        ),
    ],
)
def test_other_variables_coerce(schema: GraphQLSchema, document: str, variables: Any) -> None:
    assert coercion_errors(schema, document, variables) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("customerSelection", {"all": True}, id="deprecated customerSelection"),
        pytest.param("customerEligibility", {"all": True}, id="unknown field"),
        pytest.param("context", {"all": "EVERYONE"}, id="bad enum value"),
    ],
)
def test_bad_input_fails_coercion(schema: GraphQLSchema, field: str, value: Any) -> None:
    call = reward_discount(request(RewardKind.PERCENT_DISCOUNT, percent=Decimal(15)))
    call.variables["discount"][field] = value
    assert coercion_errors(schema, call.document, call.variables)


def test_a_deprecated_output_field_fails_validation(schema: GraphQLSchema) -> None:
    document = "query { orders(first: 1) { nodes { id totalPrice } } }"
    assert validate(schema, parse(document), RULES)


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        pytest.param(Decimal(15), 0.15, id="15 percent"),
        pytest.param(Decimal("12.5"), 0.125, id="fractional percent"),
        pytest.param(Decimal(100), 1.0, id="all of it"),
    ],
)
def test_percentage_is_a_fraction(percent: Decimal, expected: float) -> None:
    assert fraction(percent) == expected


@pytest.mark.parametrize("percent", [Decimal(0), Decimal(150)], ids=["zero", "over 100"])
def test_percentage_out_of_range_is_terminal(percent: Decimal) -> None:
    with pytest.raises(StoreClientError) as raised:
        fraction(percent)
    assert raised.value.retryable is False


def test_reward_input_binds_the_customer_and_is_single_use() -> None:
    call = reward_discount(request(RewardKind.FIXED_DISCOUNT, amount=Decimal("10.00")))
    discount = call.variables["discount"]
    assert discount["context"] == {
        "customers": {"add": ["gid://shopify/Customer/115310627314723954"]}
    }
    assert (discount["usageLimit"], discount["appliesOncePerCustomer"]) == (1, True)
    assert discount["customerGets"]["value"]["discountAmount"]["amount"] == "10.00"
    assert money_text(Decimal("10.50")) == "10.50"


def test_a_reconciled_order_translates_like_a_webhook() -> None:
    node = graphql_order(
        820982911946154508,
        "2026-11-20T10:00:00Z",
        codes=("anna-7q2k",),
        refunds=((5001, "20.00"),),
        status="PARTIALLY_REFUNDED",
    )
    order = store_order(node, "demo-store.myshopify.com")
    connector = ShopifyConnector()
    meta = connector.identify(order.headers)
    assert meta is not None and meta.topic == "orders/updated"
    (event,) = connector.translate(meta, json.loads(order.body))
    assert isinstance(event, OrderEvent)
    assert event.order_id == order.order_id == "820982911946154508"
    assert event.kind is OrderEventKind.REFUNDED
    assert event.discount_codes == (normalize_code("ANNA-7Q2K"),)
    assert (event.subtotal, event.total) == (Decimal("100.00"), Decimal("90.00"))
    assert event.refunds[0].amount == Decimal("20.00")
    assert event.line_items[0].total == Decimal("90.00")
    assert event.customer_id == "7001" and event.country == "DE"
    assert event.landing_ref == normalize_code("ANNA-7Q2K")
