"""The export a customer data request is answered with: everything we hold about that customer
in one shop, as JSON-ready dicts (money as strings, times ISO 8601 UTC).

What is included is exactly `customer_data.find_customer_rows`. Other people's data that sits
next to the customer's is left out: the friends an advocate referred appear as referral rows
without their identity, and the clicks on an advocate's codes without the visitor's IP hash or
user agent.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from ..models import (
    Advocate,
    Claim,
    Click,
    Code,
    Conversion,
    ExperimentAssignment,
    LedgerEntry,
    OrderEventRecord,
    OutboxMessage,
    Referral,
    Reward,
)
from .customer_data import CustomerRef, CustomerRows

EXPORT_VERSION = 1


def build_export(ref: CustomerRef, rows: CustomerRows, *, now: datetime) -> dict[str, Any]:
    """The export document of `rows` (found for `ref`)."""
    codes_by_id = {code.id: code.code for code in rows.codes}
    return {
        "version": EXPORT_VERSION,
        "generated_at": now.isoformat(),
        "customer": {
            "customer_id": ref.customer_id,
            "email": ref.email,
            "orders_requested": list(ref.order_ids),
        },
        "advocates": [_advocate(a) for a in rows.advocates],
        "experiment_assignments": [_assignment(a) for a in rows.assignments],
        "codes": [_code(c) for c in rows.codes],
        "claims": [_claim(c, codes_by_id) for c in rows.claims],
        "clicks": [_click(c, codes_by_id) for c in rows.clicks],
        "orders": [_order(c) for c in rows.conversions],
        "referrals": [_referral(r) for r in rows.referrals],
        "rewards": [_reward(r) for r in rows.rewards],
        "ledger": [_ledger(e) for e in rows.ledger],
        "messages": [_message(m) for m in rows.messages],
        "order_events": [_order_event(e) for e in rows.order_events],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def _fields(row: object, *names: str) -> dict[str, Any]:
    return {name: _plain(getattr(row, name)) for name in names}


def _advocate(row: Advocate) -> dict[str, Any]:
    return _fields(
        row,
        "id",
        "program_id",
        "email",
        "customer_id",
        "first_name",
        "last_name",
        "status",
        "currency",
        "balance",
        "points",
        "debt",
        "successful_referrals",
        "variant",
        "created_at",
    )


def _assignment(row: ExperimentAssignment) -> dict[str, Any]:
    return _fields(row, "id", "program_id", "advocate_id", "variant", "source", "assigned_at")


def _code(row: Code) -> dict[str, Any]:
    return _fields(
        row, "id", "program_id", "advocate_id", "kind", "code", "friend_email", "created_at"
    )


def _claim(row: Claim, codes: dict[int, str]) -> dict[str, Any]:
    claim = _fields(row, "id", "program_id", "identity_email", "claimed_at")
    return {**claim, "code": codes.get(row.code_id)}


def _click(row: Click, codes: dict[int, str]) -> dict[str, Any]:
    return {**_fields(row, "id", "landing_url", "created_at"), "code": codes.get(row.code_id)}


def _order(row: Conversion) -> dict[str, Any]:
    return _fields(
        row,
        "order_id",
        "order_number",
        "customer_id",
        "email",
        "currency",
        "subtotal",
        "total",
        "refunded_total",
        "paid",
        "paid_at",
        "cancelled",
        "is_test",
        "code",
        "outcome",
        "decided_at",
    )


def _referral(row: Referral) -> dict[str, Any]:
    return _fields(
        row,
        "id",
        "program_id",
        "advocate_id",
        "conversion_id",
        "code",
        "status",
        "status_reason",
        "created_at",
        "updated_at",
    )


def _reward(row: Reward) -> dict[str, Any]:
    return _fields(
        row,
        "id",
        "program_id",
        "advocate_id",
        "beneficiary",
        "kind",
        "status",
        "value",
        "points",
        "currency",
        "store_code",
        "hold_until",
        "issued_at",
        "redeemed_at",
        "expires_at",
        "reversed_at",
        "created_at",
    )


def _ledger(row: LedgerEntry) -> dict[str, Any]:
    return _fields(row, "id", "advocate_id", "reward_id", "kind", "amount", "unit", "created_at")


def _message(row: OutboxMessage) -> dict[str, Any]:
    message = _fields(row, "id", "kind", "recipient", "status", "created_at", "sent_at")
    return {**message, "subject": row.payload.get("subject"), "text": row.payload.get("text")}


def _order_event(row: OrderEventRecord) -> dict[str, Any]:
    event = _fields(row, "order_id", "kind", "occurred_at", "recorded_at")
    return {**event, "data": json.loads(row.payload)}
