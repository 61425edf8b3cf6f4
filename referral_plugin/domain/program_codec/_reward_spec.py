"""Reward specs to and from JSON-ready dicts, with the per-kind required fields."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..programs import RewardKind, RewardSpec, ValueBasis
from ._fields import FieldErrors, read_decimal, read_enum, read_int, read_object, read_str

SPEC_FIELDS = frozenset(
    {
        "kind",
        "basis",
        "amount",
        "percent",
        "points",
        "product_id",
        "tag",
        "charity",
        "description",
        "expires_in_days",
        "minimum_subtotal",
    }
)
# Kinds whose value is an amount (FIXED basis) or a percent of the order (PERCENT_OF_ORDER).
AMOUNT_KINDS = frozenset(
    {RewardKind.FIXED_DISCOUNT, RewardKind.STORE_CREDIT, RewardKind.CASH, RewardKind.CHARITY}
)
# Text fields a kind cannot do without.
REQUIRED_TEXT = {
    RewardKind.FREE_PRODUCT: "product_id",
    RewardKind.VIP: "tag",
    RewardKind.CHARITY: "charity",
    RewardKind.CUSTOM: "description",
}
HUNDRED = Decimal(100)


def reward_spec_to_dict(spec: RewardSpec) -> dict[str, Any]:
    """JSON-ready: enums as values, Decimals as strings, absent fields as None."""
    return {
        "kind": spec.kind.value,
        "basis": spec.basis.value,
        "amount": None if spec.amount is None else str(spec.amount),
        "percent": None if spec.percent is None else str(spec.percent),
        "points": spec.points,
        "product_id": spec.product_id,
        "tag": spec.tag,
        "charity": spec.charity,
        "description": spec.description,
        "expires_in_days": spec.expires_in_days,
        "minimum_subtotal": None if spec.minimum_subtotal is None else str(spec.minimum_subtotal),
    }


def parse_reward_spec(value: Any, field: str, errors: FieldErrors) -> RewardSpec | None:
    """A RewardSpec from a JSON object, or None with errors named `<field>.<key>`."""
    body = read_object(value, field, SPEC_FIELDS, errors)
    if body is None:
        return None
    before = len(errors)
    kind = read_enum(body.get("kind"), RewardKind, f"{field}.kind", errors, required=True)
    basis = read_enum(body.get("basis") or "fixed", ValueBasis, f"{field}.basis", errors)
    spec = RewardSpec(
        kind=kind or RewardKind.CUSTOM,
        basis=basis or ValueBasis.FIXED,
        amount=read_decimal(body.get("amount"), f"{field}.amount", errors),
        percent=read_decimal(
            body.get("percent"), f"{field}.percent", errors, maximum=HUNDRED, places=4
        ),
        points=read_int(body.get("points"), f"{field}.points", errors, 1, 10_000_000),
        product_id=read_str(body.get("product_id"), f"{field}.product_id", errors),
        tag=read_str(body.get("tag"), f"{field}.tag", errors, max_length=100),
        charity=read_str(body.get("charity"), f"{field}.charity", errors, max_length=200),
        description=read_str(body.get("description"), f"{field}.description", errors),
        expires_in_days=read_int(
            body.get("expires_in_days"), f"{field}.expires_in_days", errors, 1, 3650
        ),
        minimum_subtotal=read_decimal(
            body.get("minimum_subtotal"), f"{field}.minimum_subtotal", errors
        ),
    )
    if len(errors) == before:
        _check_required(spec, field, errors)
    return spec if len(errors) == before else None


def _check_required(spec: RewardSpec, field: str, errors: FieldErrors) -> None:
    percent_based = spec.basis is ValueBasis.PERCENT_OF_ORDER
    if spec.kind is RewardKind.PERCENT_DISCOUNT or (
        percent_based and (spec.kind in AMOUNT_KINDS or spec.kind is RewardKind.POINTS)
    ):
        _require(spec.percent, "percent", spec, field, errors)
    elif spec.kind in AMOUNT_KINDS:
        _require(spec.amount, "amount", spec, field, errors)
    elif spec.kind is RewardKind.POINTS:
        _require(spec.points, "points", spec, field, errors)
    if percent_based and spec.kind not in AMOUNT_KINDS | {RewardKind.POINTS}:
        errors.append((f"{field}.basis", f"percent_of_order does not apply to {spec.kind}"))
    text_field = REQUIRED_TEXT.get(spec.kind)
    if text_field is not None:
        _require(getattr(spec, text_field), text_field, spec, field, errors)


def _require(value: object, name: str, spec: RewardSpec, field: str, errors: FieldErrors) -> None:
    if value is None:
        basis = "" if spec.basis is ValueBasis.FIXED else f" ({spec.basis})"
        errors.append((f"{field}.{name}", f"is required for a {spec.kind} reward{basis}"))
