"""Readers for JSON input fields: each returns the value or None and records (field, message)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

FieldErrors = list[tuple[str, str]]  # (dotted field, message)
E = TypeVar("E", bound=StrEnum)

MAX_AMOUNT = Decimal("1e12")


def _at(field: str, name: str) -> str:
    return f"{field}.{name}" if field else name


def read_object(
    value: Any, field: str, allowed: frozenset[str], errors: FieldErrors
) -> dict[str, Any] | None:
    """The dict itself when it is an object with only `allowed` keys; unknown keys are errors."""
    if not isinstance(value, dict):
        errors.append((field or "body", "must be an object"))
        return None
    for key in value:
        if key not in allowed:
            errors.append((_at(field, str(key)), "unknown field"))
    return value


def read_str(
    value: Any, field: str, errors: FieldErrors, *, required: bool = False, max_length: int = 255
) -> str | None:
    if value is None:
        if required:
            errors.append((field, "is required"))
        return None
    if not isinstance(value, str) or not value.strip():
        errors.append((field, "must be a non-empty string"))
        return None
    if len(value.strip()) > max_length:
        errors.append((field, f"must be at most {max_length} characters"))
        return None
    return value.strip()


def read_list(value: Any, field: str, errors: FieldErrors) -> list[Any]:
    """The JSON list, or [] (with an error unless absent) when it is not one."""
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append((field, "must be a list"))
        return []
    return value


def read_bool(value: Any, field: str, errors: FieldErrors) -> bool | None:
    if not isinstance(value, bool):
        errors.append((field, "must be true or false"))
        return None
    return value


def read_int(
    value: Any, field: str, errors: FieldErrors, low: int, high: int, *, required: bool = False
) -> int | None:
    """A whole number in [low, high]; booleans and fractions are refused."""
    if value is None:
        if required:
            errors.append((field, "is required"))
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append((field, "must be a whole number"))
        return None
    if not low <= value <= high:
        errors.append((field, f"must be between {low} and {high}"))
        return None
    return value


def to_decimal(value: Any) -> Decimal | None:
    """A finite Decimal from a string, int or JSON number (via its shortest repr), else None."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def read_decimal(
    value: Any,
    field: str,
    errors: FieldErrors,
    *,
    required: bool = False,
    maximum: Decimal = MAX_AMOUNT,
    places: int = 2,
) -> Decimal | None:
    """A positive decimal (given as a string or number) up to `maximum` with `places` decimals."""
    if value is None:
        if required:
            errors.append((field, "is required"))
        return None
    amount = to_decimal(value)
    if amount is None:
        errors.append((field, 'must be a decimal number, e.g. "10.00"'))
    elif amount <= 0 or amount > maximum:
        errors.append((field, f"must be greater than 0 and at most {maximum}"))
    elif -amount.as_tuple().exponent > places:  # type: ignore[operator]
        errors.append((field, f"must have at most {places} decimal places"))
    else:
        return amount
    return None


def read_enum(
    value: Any,
    enum_class: type[E],
    field: str,
    errors: FieldErrors,
    *,
    required: bool = False,
    what: str = "value",
) -> E | None:
    if value is None:
        if required:
            errors.append((field, "is required"))
        return None
    try:
        return enum_class(value)
    except ValueError:
        choices = ", ".join(member.value for member in enum_class)
        errors.append((field, f"unknown {what} {value!r}; expected one of: {choices}"))
        return None


def read_datetime(value: Any, field: str, errors: FieldErrors) -> datetime | None:
    """An aware ISO 8601 timestamp ('Z' allowed), as UTC; naive text is refused."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        errors.append((field, "must be an ISO 8601 timestamp"))
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        errors.append((field, "must include a time zone, e.g. 2026-01-01T00:00:00Z"))
        return None
    return parsed.astimezone(UTC)


def read_string_set(value: Any, field: str, errors: FieldErrors) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        errors.append((field, "must be a list of non-empty strings"))
        return frozenset()
    return frozenset(value)
