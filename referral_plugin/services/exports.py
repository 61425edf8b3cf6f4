"""CSV exports of one shop's advocates, referrals and rewards, for the merchant's spreadsheets.

Rows are read in pages by id (keyset: `id > last ORDER BY id LIMIT n`), each page in a short
transaction of its own, so a large export neither holds a long snapshot on PostgreSQL nor the
single write lock on SQLite. Amounts are plain decimal strings in the currency's minor unit next
to a `currency` column; times are ISO 8601 UTC. Every text cell is made safe against CSV
(formula) injection: a cell starting with `=`, `+`, `-`, `@`, tab or carriage return gets a
leading `'`, unless it is a plain number we wrote.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..domain.decisions import CodeKind
from ..domain.money import minor_unit
from ..models import Advocate, Code, Conversion, Referral, Reward

PAGE_SIZE = 500
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")
Transaction = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Export:
    """One export: its header, the query of one page (rows after an id), how a row reads."""

    header: tuple[str, ...]
    page: Callable[[int, int, datetime | None, datetime | None], Select[Any]]
    cells: Callable[[Any], Sequence[object]]


def _advocates(shop_id: int, after: int, start: datetime | None, end: datetime | None):
    code = (
        select(func.min(Code.code))
        .where(Code.advocate_id == Advocate.id, Code.kind == CodeKind.ADVOCATE)
        .scalar_subquery()
    )
    query = select(Advocate, code).where(Advocate.shop_id == shop_id, Advocate.id > after)
    return _window(query, Advocate.created_at, start, end).order_by(Advocate.id)


def _advocate_cells(row: Any) -> Sequence[object]:
    a, code = row
    return (
        a.id, a.program_id, a.email, a.first_name, a.last_name, a.customer_id, a.status,
        code, a.variant, a.successful_referrals, _amount(a.balance, a.currency), a.points,
        _amount(a.debt, a.currency), a.currency, a.created_at,
    )  # fmt: skip


def _referrals(shop_id: int, after: int, start: datetime | None, end: datetime | None):
    query = (
        select(Referral, Conversion, Advocate.email)
        .join(Conversion, Conversion.id == Referral.conversion_id)
        .join(Advocate, Advocate.id == Referral.advocate_id)
        .where(Referral.shop_id == shop_id, Referral.id > after)
    )
    return _window(query, Referral.created_at, start, end).order_by(Referral.id)


def _referral_cells(row: Any) -> Sequence[object]:
    r, c, advocate_email = row
    return (
        r.id, r.program_id, r.advocate_id, advocate_email, r.status, r.status_reason,
        r.method, r.code, c.order_id, c.order_number, _amount(c.subtotal, c.currency),
        _amount(c.total, c.currency), _amount(c.refunded_total, c.currency), c.currency,
        r.created_at, r.updated_at,
    )  # fmt: skip


def _rewards(shop_id: int, after: int, start: datetime | None, end: datetime | None):
    query = (
        select(Reward, Conversion.order_id)
        .join(Conversion, Conversion.id == Reward.conversion_id)
        .where(Reward.shop_id == shop_id, Reward.id > after)
    )
    return _window(query, Reward.created_at, start, end).order_by(Reward.id)


def _reward_cells(row: Any) -> Sequence[object]:
    w, order_id = row
    return (
        w.id, w.referral_id, w.program_id, w.advocate_id, w.beneficiary, w.kind, w.status,
        _amount(w.value, w.currency), _amount(w.nominal_value, w.currency), w.points,
        w.currency, w.store_code, order_id, w.created_at, w.approved_at, w.issued_at,
        w.redeemed_at, w.expires_at, w.reversed_at, w.reversal_reason,
    )  # fmt: skip


ADVOCATE_COLUMNS = (
    "id", "program_id", "email", "first_name", "last_name", "customer_id", "status", "code",
    "variant", "successful_referrals", "balance", "points", "debt", "currency", "created_at",
)  # fmt: skip

REFERRAL_COLUMNS = (
    "id", "program_id", "advocate_id", "advocate_email", "status", "status_reason", "method",
    "code", "order_id", "order_number", "order_subtotal", "order_total", "refunded_total",
    "currency", "created_at", "updated_at",
)  # fmt: skip

REWARD_COLUMNS = (
    "id", "referral_id", "program_id", "advocate_id", "beneficiary", "kind", "status", "value",
    "nominal_value", "points", "currency", "store_code", "order_id", "created_at",
    "approved_at", "issued_at", "redeemed_at", "expires_at", "reversed_at", "reversal_reason",
)  # fmt: skip

EXPORTS: dict[str, Export] = {
    "advocates": Export(
        header=ADVOCATE_COLUMNS,
        page=_advocates,
        cells=_advocate_cells,
    ),
    "referrals": Export(
        header=REFERRAL_COLUMNS,
        page=_referrals,
        cells=_referral_cells,
    ),
    "rewards": Export(
        header=REWARD_COLUMNS,
        page=_rewards,
        cells=_reward_cells,
    ),
}


def export_csv(
    transaction: Transaction,
    shop_id: int,
    kind: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[str]:
    """The CSV text of the shop's `kind` rows created in [start, end), header first, in pieces
    of up to one page. `kind` is a key of EXPORTS (KeyError otherwise)."""
    export = EXPORTS[kind]
    yield csv_line(export.header)
    after = 0
    while True:
        with transaction() as session:
            rows = session.execute(export.page(shop_id, after, start, end).limit(page_size)).all()
            lines = [csv_line(export.cells(row)) for row in rows]
        if lines:
            yield "".join(lines)
        if len(rows) < page_size:
            return
        after = rows[-1][0].id


def csv_line(cells: Sequence[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([csv_cell(cell) for cell in cells])
    return buffer.getvalue()


def csv_cell(value: object) -> str:
    """One cell as text, defused: see the module docstring."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Enum):
        value = value.value
    text = str(value)
    if text.startswith(FORMULA_TRIGGERS) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _amount(amount: Decimal | None, currency: str) -> str | None:
    return None if amount is None else format(amount.quantize(minor_unit(currency)), "f")


def _window(query: Any, column: Any, start: datetime | None, end: datetime | None) -> Any:
    if start is not None:
        query = query.where(column >= start)
    if end is not None:
        query = query.where(column < end)
    return query
