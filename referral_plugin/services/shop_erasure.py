"""Erasing a shop and every row it owns (`shop/redact`), in the caller's transaction.

The shop-owned tables are found in the models' metadata (every column referencing `shops.id`),
not listed by hand, so a table added later is erased too. Rows go children first
(`MetaData.sorted_tables` reversed), the shop row last.
"""

from __future__ import annotations

import functools

from sqlalchemy import Column, Table, delete
from sqlalchemy.orm import Session

from ..models import Base, Shop


@functools.cache
def shop_owned_columns() -> tuple[tuple[Table, Column], ...]:
    """(table, column referencing shops.id) for every shop-owned table, dependents first."""
    shops = Shop.__table__
    owned = []
    for table in reversed(Base.metadata.sorted_tables):
        for column in table.columns:
            if any(fk.column.table is shops for fk in column.foreign_keys):
                owned.append((table, column))
    return tuple(owned)


def erase_shop(session: Session, shop_id: int) -> dict[str, int] | None:
    """Delete the shop and everything it owns; returns rows deleted per table, or None when
    the shop is already gone (idempotent). Objects of the shop loaded in `session` are marked
    deleted too, so nothing the session holds writes them back."""
    if session.get(Shop, shop_id) is None:
        return None
    classes = {mapper.local_table: mapper.class_ for mapper in Base.registry.mappers}
    counts: dict[str, int] = {}
    for table, column in shop_owned_columns():
        target = classes.get(table, table)
        where = getattr(target, column.key) if target is not table else column
        statement = delete(target).where(where == shop_id)
        result = session.execute(statement.execution_options(synchronize_session="fetch"))
        if result.rowcount:  # type: ignore[attr-defined]
            counts[table.name] = result.rowcount  # type: ignore[attr-defined]
    session.execute(
        delete(Shop).where(Shop.id == shop_id).execution_options(synchronize_session="fetch")
    )
    return counts
