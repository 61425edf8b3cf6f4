"""Which rows of one shop hold one customer's data: the single definition that both the data
export (`compliance_export`) and the redaction (`redaction`) read, so what we hand out and what
we erase never drift apart.

A customer is named by the store's customer id, an email, and order ids (any may be missing).
Emails match by identity (`emails.identity_email`: the inbox an address reaches), the same rule
that decides self-referral.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session

from ..domain.decisions import Beneficiary
from ..domain.emails import identity_email, normalize_email
from ..models import (
    Advocate,
    Claim,
    Click,
    Code,
    Conversion,
    DataRequest,
    ExperimentAssignment,
    LedgerEntry,
    OrderEventRecord,
    OutboxMessage,
    Referral,
    Reward,
)
from .snapshots import same_person


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerRef:
    """One customer as a compliance request names them (normalized email, string ids)."""

    customer_id: str | None
    email: str | None
    order_ids: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, customer_id: object, email: str | None, order_ids: Iterable[object] = ()
    ) -> CustomerRef:
        cid = None if customer_id is None else str(customer_id).strip() or None
        return cls(
            customer_id=cid,
            email=normalize_email(email),
            order_ids=tuple(dict.fromkeys(str(o) for o in order_ids)),
        )

    @property
    def identity(self) -> str | None:
        return identity_email(self.email)

    @property
    def is_empty(self) -> bool:
        return not (self.customer_id or self.email or self.order_ids)


@dataclass(slots=True, kw_only=True)
class CustomerRows:
    """The customer's rows in one shop, each list ordered by id."""

    advocates: list[Advocate] = field(default_factory=list)
    codes: list[Code] = field(default_factory=list)  # their advocate codes, friend codes
    claims: list[Claim] = field(default_factory=list)  # friend codes they claimed
    clicks: list[Click] = field(default_factory=list)  # on their advocate codes
    conversions: list[Conversion] = field(default_factory=list)  # their own orders
    referrals: list[Referral] = field(default_factory=list)  # as advocate, and on their orders
    rewards: list[Reward] = field(default_factory=list)  # theirs as advocate or as friend
    ledger: list[LedgerEntry] = field(default_factory=list)
    messages: list[OutboxMessage] = field(default_factory=list)  # addressed to them
    order_events: list[OrderEventRecord] = field(default_factory=list)  # of their orders
    data_requests: list[DataRequest] = field(default_factory=list)  # earlier exports of them
    # Their A/B test groups. No personal data of its own: a redaction keeps the rows (the
    # advocate they point at is anonymized), so the test's results do not change.
    assignments: list[ExperimentAssignment] = field(default_factory=list)

    @property
    def order_ids(self) -> set[str]:
        return {c.order_id for c in self.conversions}


def find_customer_rows(session: Session, shop_id: int, ref: CustomerRef) -> CustomerRows:
    """Every row of `shop_id` that holds data of the customer `ref` names. Read-only."""
    rows = CustomerRows()
    if ref.is_empty:
        return rows
    rows.advocates = _all(session, Advocate, shop_id, _advocate_match(ref))
    advocate_ids = [a.id for a in rows.advocates]
    rows.assignments = _all(
        session, ExperimentAssignment, shop_id, ExperimentAssignment.advocate_id.in_(advocate_ids)
    )
    friend_code = Code.friend_email == ref.identity if ref.identity else false()
    rows.codes = _all(session, Code, shop_id, or_(Code.advocate_id.in_(advocate_ids), friend_code))
    own_codes = [c.id for c in rows.codes if c.advocate_id in advocate_ids]
    claimed = Claim.identity_email == ref.identity if ref.identity else false()
    rows.claims = _all(session, Claim, shop_id, claimed)
    rows.clicks = _all(session, Click, shop_id, Click.code_id.in_(own_codes))
    listed = Conversion.order_id.in_(ref.order_ids)
    person = same_person(shop_id, ref.customer_id, ref.identity)
    rows.conversions = _all(session, Conversion, shop_id, or_(person, listed))
    conversion_ids = [c.id for c in rows.conversions]
    rows.referrals = _all(
        session,
        Referral,
        shop_id,
        or_(Referral.advocate_id.in_(advocate_ids), Referral.conversion_id.in_(conversion_ids)),
    )
    as_friend = Reward.conversion_id.in_(conversion_ids) & (
        Reward.beneficiary == Beneficiary.FRIEND
    )
    rows.rewards = _all(
        session, Reward, shop_id, or_(Reward.advocate_id.in_(advocate_ids), as_friend)
    )
    rows.ledger = _all(session, LedgerEntry, shop_id, LedgerEntry.advocate_id.in_(advocate_ids))
    rows.messages = _all(session, OutboxMessage, shop_id, _recipient_match(ref))
    rows.order_events = _all(
        session, OrderEventRecord, shop_id, _order_event_match(ref, rows.order_ids)
    )
    rows.data_requests = _all(session, DataRequest, shop_id, _request_match(ref))
    return rows


def _all(session: Session, model: type, shop_id: int, where: ColumnElement[bool]) -> list:
    query = select(model).where(model.shop_id == shop_id, where).order_by(model.id)  # type: ignore[attr-defined]
    return list(session.scalars(query))


def _advocate_match(ref: CustomerRef) -> ColumnElement[bool]:
    matches: list[ColumnElement[bool]] = []
    if ref.customer_id:
        matches.append(Advocate.customer_id == ref.customer_id)
    if ref.identity:
        matches.append(Advocate.identity_email == ref.identity)
    return or_(*matches) if matches else false()


def _recipient_match(ref: CustomerRef) -> ColumnElement[bool]:
    emails = {e for e in (ref.email, ref.identity) if e}
    return func.lower(OutboxMessage.recipient).in_(emails) if emails else false()


def _order_event_match(ref: CustomerRef, order_ids: set[str]) -> ColumnElement[bool]:
    """Events of the customer's orders, and any event naming them (the log's JSON is written
    by `order_event_codec` with compact separators, so a field is an exact substring)."""
    matches = [OrderEventRecord.order_id.in_(sorted(order_ids | set(ref.order_ids)))]
    if ref.customer_id:
        needle = f'"customer_id":"{ref.customer_id}"'
        matches.append(OrderEventRecord.payload.contains(needle, autoescape=True))
    if ref.email:
        needle = f'"email":"{ref.email}"'
        matches.append(OrderEventRecord.payload.contains(needle, autoescape=True))
    return or_(*matches)


def _request_match(ref: CustomerRef) -> ColumnElement[bool]:
    matches: list[ColumnElement[bool]] = []
    if ref.customer_id:
        matches.append(DataRequest.customer_id == ref.customer_id)
    if ref.email:
        matches.append(DataRequest.email == ref.email)
    return or_(*matches) if matches else false()
