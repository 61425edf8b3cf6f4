"""Program conditions and caps to and from JSON-ready dicts, naming every wrong field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..programs import Cap, CapMetric, CapPeriod, CapScope, Conditions
from ._fields import (
    FieldErrors,
    read_bool,
    read_datetime,
    read_decimal,
    read_enum,
    read_int,
    read_list,
    read_object,
    read_string_set,
)

CONDITION_FIELDS = frozenset(
    {
        "starts_at",
        "ends_at",
        "minimum_subtotal",
        "first_order_only",
        "allowed_countries",
        "product_ids",
        "collection_ids",
        "accept_test_orders",
        "velocity_limit_per_day",
    }
)
CAP_FIELDS = frozenset({"scope", "metric", "limit", "period"})
DEFAULTS = Conditions()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def conditions_to_dict(conditions: Conditions) -> dict[str, Any]:
    minimum = conditions.minimum_subtotal
    return {
        "starts_at": _iso(conditions.starts_at),
        "ends_at": _iso(conditions.ends_at),
        "minimum_subtotal": None if minimum is None else str(minimum),
        "first_order_only": conditions.first_order_only,
        "allowed_countries": sorted(conditions.allowed_countries),
        "product_ids": sorted(conditions.product_ids),
        "collection_ids": sorted(conditions.collection_ids),
        "accept_test_orders": conditions.accept_test_orders,
        "velocity_limit_per_day": conditions.velocity_limit_per_day,
    }


def cap_to_dict(cap: Cap) -> dict[str, Any]:
    return {
        "scope": cap.scope.value,
        "metric": cap.metric.value,
        "limit": str(cap.limit),
        "period": cap.period.value,
    }


def _countries(value: Any, errors: FieldErrors) -> frozenset[str]:
    field = "conditions.allowed_countries"
    countries = read_string_set(value, field, errors)
    for country in sorted(countries):
        if len(country) != 2 or not (country.isascii() and country.isalpha() and country.isupper()):
            errors.append((field, f"{country!r} is not a 2-letter upper-case country code"))
    return countries


def _flag(body: dict[str, Any], name: str, default: bool, errors: FieldErrors) -> bool:
    value = read_bool(body.get(name, default), f"conditions.{name}", errors)
    return default if value is None else value


def read_conditions(value: Any, errors: FieldErrors) -> Conditions:
    """Conditions from a JSON object (absent: the defaults)."""
    body = read_object({} if value is None else value, "conditions", CONDITION_FIELDS, errors)
    if body is None:
        return DEFAULTS
    starts = read_datetime(body.get("starts_at"), "conditions.starts_at", errors)
    ends = read_datetime(body.get("ends_at"), "conditions.ends_at", errors)
    if starts and ends and ends <= starts:
        errors.append(("conditions.ends_at", "must be after starts_at"))
    velocity = read_int(
        body.get("velocity_limit_per_day", DEFAULTS.velocity_limit_per_day),
        "conditions.velocity_limit_per_day",
        errors,
        1,
        10_000,
    )
    return Conditions(
        starts_at=starts,
        ends_at=ends,
        minimum_subtotal=read_decimal(
            body.get("minimum_subtotal"), "conditions.minimum_subtotal", errors
        ),
        first_order_only=_flag(body, "first_order_only", DEFAULTS.first_order_only, errors),
        allowed_countries=_countries(body.get("allowed_countries"), errors),
        product_ids=read_string_set(body.get("product_ids"), "conditions.product_ids", errors),
        collection_ids=read_string_set(
            body.get("collection_ids"), "conditions.collection_ids", errors
        ),
        accept_test_orders=_flag(body, "accept_test_orders", DEFAULTS.accept_test_orders, errors),
        velocity_limit_per_day=velocity or DEFAULTS.velocity_limit_per_day,
    )


def read_caps(value: Any, errors: FieldErrors) -> tuple[Cap, ...]:
    """Caps from a JSON list; COUNT caps need a whole-number limit."""
    caps: list[Cap] = []
    for index, item in enumerate(read_list(value, "caps", errors)):
        field = f"caps.{index}"
        body = read_object(item, field, CAP_FIELDS, errors)
        if body is None:
            continue
        scope = read_enum(body.get("scope"), CapScope, f"{field}.scope", errors, required=True)
        metric = read_enum(body.get("metric"), CapMetric, f"{field}.metric", errors, required=True)
        period = read_enum(body.get("period") or "lifetime", CapPeriod, f"{field}.period", errors)
        limit = read_decimal(body.get("limit"), f"{field}.limit", errors, required=True)
        if metric is CapMetric.COUNT and limit is not None and limit != limit.to_integral_value():
            errors.append((f"{field}.limit", "must be a whole number for a count cap"))
        if scope and metric and period and limit is not None:
            caps.append(Cap(scope=scope, metric=metric, limit=limit, period=period))
    return tuple(caps)
