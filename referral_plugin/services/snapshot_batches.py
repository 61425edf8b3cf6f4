"""The rules engine's Snapshots: for one order (`load_snapshot`, the per-order path) or for several
orders of one shop at once (the referral batch), from the same statements.

Codes, claims, advocates and programs come first (`load_referral_rows`, which also tells which
advocates and people each order can touch), then the histories (`snapshots_for`): the people's
other orders, the advocates' unreversed reward keys and recent referrals, cap usage. For a
batch, each Snapshot equals what `load_snapshot` returns for that order alone, provided no other
order of the batch touches the same advocates or people (the caller keeps such orders apart).
Rows are read with Core, never as ORM objects, so no stale advocate stays in the session's
identity map after the batch moved its counters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, or_, select
from sqlalchemy.orm import Session

from ..db import among
from ..domain.decisions import Beneficiary, ClaimView, CodeView, Snapshot
from ..domain.emails import identity_email
from ..domain.events import OrderEvent
from ..domain.lifecycle import RewardStatus
from ..domain.programs import CapScope, Program
from ..models import Advocate, Code, Conversion, Referral, Reward
from ..models import Program as ProgramRow
from .snapshots import (
    DISPOSABLE_EMAIL_DOMAINS,
    NO_REFERRAL_SNAPSHOT,
    advocate_view,
    cap_usage,
    claim_view,
    claims_query,
    code_view,
    load_program,
    signal_hashes,
    wanted_codes,
)

Person = tuple[str, str]  # ("customer", id) or ("email", identity email)


def person_keys(customer_id: str | None, email: str | None) -> frozenset[Person]:
    """The keys `snapshots.same_person` matches a customer by."""
    keys = set()
    if customer_id:
        keys.add(("customer", customer_id))
    if email:
        keys.add(("email", email))
    return frozenset(keys)


@dataclass(frozen=True, slots=True)
class ReferralRows:
    """The codes, claims, advocates and programs the orders of one shop can be attributed by."""

    codes: dict[str, CodeView]  # by normalized code
    claims: dict[str, tuple[ClaimView, ...]]  # by identity email, oldest first
    advocates: dict[int, Any]  # advocates rows (Core)
    programs: dict[int, Program]

    def order_codes(self, event: OrderEvent) -> dict[str, CodeView]:
        wanted = sorted(wanted_codes(event))
        return {code: self.codes[code] for code in wanted if code in self.codes}

    def order_claims(self, event: OrderEvent) -> tuple[ClaimView, ...]:
        email = identity_email(event.email)
        return () if email is None else self.claims.get(email, ())

    def advocate_ids(self, event: OrderEvent) -> set[int]:
        """The candidate advocates of the order (as `load_snapshot` finds them)."""
        ids = {c.advocate_id for c in self.order_codes(event).values() if c.advocate_id is not None}
        return ids | {c.advocate_id for c in self.order_claims(event)}

    def program_ids(self, event: OrderEvent) -> set[int]:
        ids = {c.program_id for c in self.order_codes(event).values()}
        ids |= {c.program_id for c in self.order_claims(event)}
        return ids | {
            self.advocates[a].program_id for a in self.advocate_ids(event) if a in self.advocates
        }

    def touches(self, event: OrderEvent) -> frozenset[tuple[Any, ...]]:
        """What deciding the order reads that deciding another order could change: its
        advocates, its customer, the advocates' own orders (as customers) and programs with a
        program-wide cap."""
        keys: set[tuple[Any, ...]] = {("advocate", a) for a in self.advocate_ids(event)}
        keys |= _buyer(event)
        for advocate_id in self.advocate_ids(event):
            row = self.advocates.get(advocate_id)
            if row is not None:
                keys |= _advocate_person(row)
        for program_id in self.program_ids(event):
            program = self.programs.get(program_id)
            if program is not None and any(c.scope is CapScope.PROGRAM for c in program.caps):
                keys.add(("program", program_id))
        return frozenset(keys)


def load_referral_rows(
    conn: Connection, shop_id: int, events: Sequence[OrderEvent]
) -> ReferralRows:
    """The shop's codes and claims the events name, their advocates and programs: four
    statements at most."""
    wanted = sorted({code for event in events for code in wanted_codes(event)})
    codes_table = Code.__table__
    codes = {}
    if wanted:
        rows = conn.execute(
            select(codes_table).where(
                codes_table.c.shop_id == shop_id,
                among(codes_table.c.normalized, wanted, conn.dialect.name),
            )
        )
        codes = {row.normalized: code_view(row) for row in rows}
    emails = sorted({e for event in events if (e := identity_email(event.email))})
    claims: dict[str, list[ClaimView]] = {}
    if emails:
        for row in conn.execute(claims_query(shop_id, emails, conn.dialect.name)):
            claims.setdefault(row.identity_email, []).append(claim_view(row))
    advocate_ids = {c.advocate_id for c in codes.values() if c.advocate_id is not None}
    advocate_ids |= {c.advocate_id for found in claims.values() for c in found}
    advocates = {}
    if advocate_ids:
        table = Advocate.__table__
        query = select(table).where(
            table.c.shop_id == shop_id, among(table.c.id, sorted(advocate_ids), conn.dialect.name)
        )
        advocates = {row.id: row for row in conn.execute(query)}
    program_ids = {c.program_id for c in codes.values()}
    program_ids |= {c.program_id for found in claims.values() for c in found}
    program_ids |= {row.program_id for row in advocates.values()}
    programs = {}
    if program_ids:
        table = ProgramRow.__table__
        query = select(table).where(
            table.c.shop_id == shop_id, among(table.c.id, sorted(program_ids), conn.dialect.name)
        )
        programs = {row.id: load_program(row) for row in conn.execute(query)}
    return ReferralRows(
        codes=codes,
        claims={email: tuple(found) for email, found in claims.items()},
        advocates=advocates,
        programs=programs,
    )


def load_snapshot(
    session: Session,
    shop_id: int,
    event: OrderEvent,
    now: datetime,
    *,
    signal_key: bytes | None = None,
) -> Snapshot:
    """Everything `rules.decide` may read for this order, scoped to the shop. Read-only.

    `signal_key` hashes fraud signals the way conversions store them; without it the
    advocates' known IPs/devices/fingerprints are empty. An order with no code we know and
    no claim for its email cannot be attributed: `decide` then reads only the codes and
    claims, so the rest (programs, advocates, prior orders, caps) is not loaded and empty.
    """
    session.flush()  # the reads below are Core: they would not flush pending objects
    rows = load_referral_rows(session.connection(), shop_id, [event])
    if not rows.order_codes(event) and not rows.order_claims(event):
        return NO_REFERRAL_SNAPSHOT
    return snapshots_for(session, shop_id, rows, [event], now, signal_key=signal_key)[0]


def snapshots_for(
    session: Session,
    shop_id: int,
    rows: ReferralRows,
    events: Sequence[OrderEvent],
    now: datetime,
    *,
    signal_key: bytes | None,
) -> list[Snapshot]:
    """Each event's Snapshot, as `load_snapshot` reads it, in three statements for all of
    them (plus one or two per cap window, when a program has caps)."""
    conn = session.connection()
    advocate_ids = sorted({a for event in events for a in rows.advocate_ids(event)})
    people = {key for event in events for key in _buyer(event)}
    for advocate_id in advocate_ids:
        row = rows.advocates.get(advocate_id)
        if row is not None:
            people |= person_keys(row.customer_id, row.identity_email)
    orders = _orders_of(conn, shop_id, people)
    earned = _earned_rule_keys(conn, shop_id, advocate_ids)
    recent = _recent_referrals(conn, shop_id, advocate_ids, now)
    snapshots = []
    for event in events:
        ids = sorted(rows.advocate_ids(event))
        advocates = [rows.advocates[a] for a in ids if a in rows.advocates]
        programs = {p: rows.programs[p] for p in rows.program_ids(event) if p in rows.programs}
        hashes = signal_hashes(event, signal_key)
        views = {
            row.id: advocate_view(
                row,
                event,
                hashes,
                own=[
                    (paid, signals)
                    for order_id, paid, signals in _matching(orders, _advocate_person(row))
                    if order_id != event.order_id
                ],
                earned=earned.get(row.id, frozenset()),
                recent=recent.get(row.id, 0),
            )
            for row in advocates
        }
        prior = [
            order_id
            for order_id, paid, _ in _matching(orders, _buyer(event))
            if paid and order_id != event.order_id
        ]
        snapshots.append(
            Snapshot(
                programs=programs,
                codes=rows.order_codes(event),
                advocates=views,
                claims=rows.order_claims(event),
                prior_orders=len(prior),
                cap_usage=cap_usage(session, programs, advocates, now),
                disposable_email_domains=DISPOSABLE_EMAIL_DOMAINS,
            )
        )
    return snapshots


def _buyer(event: OrderEvent) -> frozenset[Person]:
    return person_keys(event.customer_id, identity_email(event.email))


def _advocate_person(row: Any) -> frozenset[Person]:
    return person_keys(row.customer_id, row.identity_email)


OrderRow = tuple[str, bool, Any]  # (order id, paid, stored signal hashes)


def _orders_of(
    conn: Connection, shop_id: int, people: Iterable[Person]
) -> dict[Person, list[OrderRow]]:
    """The shop's orders of these people, by person key (an order under both of its keys)."""
    people = set(people)
    customers = sorted(value for kind, value in people if kind == "customer")
    emails = sorted(value for kind, value in people if kind == "email")
    found: dict[Person, list[OrderRow]] = {}
    if not customers and not emails:
        return found
    table = Conversion.__table__
    matches = []
    if customers:
        matches.append(among(table.c.customer_id, customers, conn.dialect.name))
    if emails:
        matches.append(among(table.c.identity_email, emails, conn.dialect.name))
    query = select(
        table.c.order_id, table.c.customer_id, table.c.identity_email, table.c.paid, table.c.signals
    ).where(table.c.shop_id == shop_id, or_(*matches))
    for row in conn.execute(query):
        for key in person_keys(row.customer_id, row.identity_email) & people:
            found.setdefault(key, []).append((row.order_id, row.paid, row.signals))
    return found


def _matching(orders: dict[Person, list[OrderRow]], keys: frozenset[Person]) -> list[OrderRow]:
    """The orders matching any of the keys, each once (`same_person`'s OR)."""
    seen: dict[str, OrderRow] = {}
    for key in sorted(keys):
        for order in orders.get(key, ()):
            seen.setdefault(order[0], order)
    return list(seen.values())


def _earned_rule_keys(
    conn: Connection, shop_id: int, advocate_ids: Sequence[int]
) -> dict[int, frozenset[str]]:
    if not advocate_ids:
        return {}
    table = Reward.__table__
    query = select(table.c.advocate_id, table.c.rule_key).where(
        table.c.shop_id == shop_id,
        among(table.c.advocate_id, advocate_ids, conn.dialect.name),
        table.c.beneficiary == Beneficiary.ADVOCATE,
        table.c.status != RewardStatus.REVERSED,
    )
    keys: dict[int, set[str]] = {}
    for advocate_id, rule_key in conn.execute(query):
        keys.setdefault(advocate_id, set()).add(rule_key)
    return {advocate_id: frozenset(found) for advocate_id, found in keys.items()}


def _recent_referrals(
    conn: Connection, shop_id: int, advocate_ids: Sequence[int], now: datetime
) -> dict[int, int]:
    if not advocate_ids:
        return {}
    table = Referral.__table__
    query = (
        select(table.c.advocate_id, func.count())
        .where(
            table.c.shop_id == shop_id,
            among(table.c.advocate_id, advocate_ids, conn.dialect.name),
            table.c.created_at >= now - timedelta(hours=24),
        )
        .group_by(table.c.advocate_id)
    )
    return {advocate_id: int(count) for advocate_id, count in conn.execute(query)}
