"""Column types shared by the models: aware-UTC datetimes, money, enums, JSON and big keys."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# BIGINT keys on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY autoincrements.
BigId = BigInteger().with_variant(Integer(), "sqlite")
MAX_ROW_ID = 2**63 - 1  # the largest BigId: an id in a request beyond it names no row


def row_id(raw: str) -> int | None:
    """`raw` (from a query string or a form) as a row id, 1 to MAX_ROW_ID; else None."""
    raw = raw.strip()
    return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_ROW_ID else None


# Money: 14 digits, 2 decimals, always with a sibling `currency` column. Percent-derived
# values are rounded to the currency's minor unit before they are stored.
Amount = Numeric(14, 2, asdecimal=True)

Json = JSON()


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; returns aware UTC on SQLite and PostgreSQL; refuses naive datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused: pass an aware UTC datetime")
        value = value.astimezone(UTC)
        # SQLite has no time zone type: store naive UTC text, which also sorts correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class EnumText(TypeDecorator[StrEnum]):
    """A StrEnum stored as its value in a VARCHAR; read back as the enum member."""

    impl = String
    cache_ok = True

    def __init__(self, enum_class: type[StrEnum], length: int = 32) -> None:
        super().__init__(length)
        self.enum_class = enum_class

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_class(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum_class(value)
