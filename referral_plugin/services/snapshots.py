"""Loads the rules engine's Snapshot for one order: only the rows that order can touch."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.orm import Session

from ..domain import caps
from ..domain.codes import normalize_code
from ..domain.decisions import (
    AdvocateView,
    Beneficiary,
    CapKey,
    CapUsage,
    ClaimView,
    CodeView,
    Snapshot,
)
from ..domain.emails import identity_email
from ..domain.events import OrderEvent
from ..domain.lifecycle import ReferralStatus, RewardStatus
from ..domain.program_codec import program_from_dict
from ..domain.programs import CapScope, Program
from ..models import (
    Advocate,
    AdvocateStatus,
    Claim,
    Code,
    Conversion,
    ProgramStatus,
    Referral,
    Reward,
)
from ..models import Program as ProgramRow

# Referrals that count toward caps and successful-referral totals.
COUNTED_REFERRAL_STATUSES = (
    ReferralStatus.PENDING,
    ReferralStatus.REVIEW,
    ReferralStatus.CONVERTED,
)
DISPOSABLE_EMAIL_DOMAINS = frozenset(
    {
        "mailinator.com",
        "guerrillamail.com",
        "10minutemail.com",
        "yopmail.com",
        "trashmail.com",
        "temp-mail.org",
        "tempmail.com",
        "sharklasers.com",
        "dispostable.com",
        "getnada.com",
        "maildrop.cc",
        "throwawaymail.com",
    }
)


# What `decide` sees for an order with no code we know and no claim for its email.
NO_REFERRAL_SNAPSHOT = Snapshot(
    programs={}, codes={}, advocates={}, disposable_email_domains=DISPOSABLE_EMAIL_DOMAINS
)


def wanted_codes(event: OrderEvent) -> set[str]:
    """The normalized codes an order may be attributed by: its discount codes and landing ref."""
    wanted = {normalize_code(c) for c in (event.discount_codes or ())}
    wanted.add(normalize_code(event.landing_ref))
    wanted.discard("")
    return wanted


def signal_hashes(event: OrderEvent, key: bytes | None) -> dict[str, str]:
    """Keyed hashes of the order's fraud signals, as stored on the conversion (no raw IPs)."""
    if key is None:
        return {}
    s = event.signals
    raw = {
        "ip": s.browser_ip,
        "device": f"{s.browser_ip}\n{s.user_agent}" if s.browser_ip and s.user_agent else None,
        "shipping": s.shipping_fingerprint,
        "payment": s.payment_fingerprint,
    }
    return {
        name: hmac.new(key, f"{name}:{value}".encode(), hashlib.sha256).hexdigest()[:40]
        for name, value in raw.items()
        if value
    }


def load_program(row: ProgramRow) -> Program:
    """The domain Program stored in a programs row (status column wins for `active`)."""
    return program_from_dict(
        dict(row.config, active=row.status is ProgramStatus.ACTIVE),
        shop_id=row.shop_id,
        program_id=row.id,
        currency=row.currency,
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
    codes = _codes(session, shop_id, event)
    claims = _claims(session, shop_id, identity_email(event.email))
    if not codes and not claims:
        return NO_REFERRAL_SNAPSHOT
    advocate_ids = {c.advocate_id for c in codes.values() if c.advocate_id is not None}
    advocate_ids |= {c.advocate_id for c in claims}
    program_ids = {c.program_id for c in codes.values()} | {c.program_id for c in claims}
    rows = session.scalars(
        select(Advocate).where(Advocate.shop_id == shop_id, Advocate.id.in_(advocate_ids))
    ).all()
    program_ids |= {row.program_id for row in rows}
    programs = _programs(session, shop_id, program_ids)
    hashes = signal_hashes(event, signal_key)
    advocates = {row.id: _advocate_view(session, row, event, hashes, now) for row in rows}
    return Snapshot(
        programs=programs,
        codes=codes,
        advocates=advocates,
        claims=claims,
        prior_orders=_prior_orders(session, shop_id, event),
        cap_usage=cap_usage(session, programs, rows, now),
        disposable_email_domains=DISPOSABLE_EMAIL_DOMAINS,
    )


def _codes(session: Session, shop_id: int, event: OrderEvent) -> dict[str, CodeView]:
    wanted = wanted_codes(event)
    if not wanted:
        return {}
    rows = session.scalars(
        select(Code).where(Code.shop_id == shop_id, Code.normalized.in_(wanted))
    ).all()
    return {row.normalized: code_view(row) for row in rows}


def code_view(row: Any) -> CodeView:
    """A codes row (ORM or Core) as the rules see it."""
    return CodeView(
        code=row.normalized,
        kind=row.kind,
        program_id=row.program_id,
        advocate_id=row.advocate_id,
        friend_email=row.friend_email,
        reward_id=row.reward_id,
    )


def _claims(session: Session, shop_id: int, email: str | None) -> tuple[ClaimView, ...]:
    if email is None:
        return ()
    rows = session.execute(claims_query(shop_id, [email])).all()
    return tuple(claim_view(row) for row in rows)


def claims_query(shop_id: int, emails: Sequence[str]) -> Select[Any]:
    """The shop's claims for `emails` with their codes, oldest first (Core rows)."""
    claims = Claim.__table__
    return (
        select(
            claims.c.identity_email,
            claims.c.advocate_id,
            claims.c.program_id,
            claims.c.claimed_at,
            Code.__table__.c.normalized,
        )
        .join(Code.__table__, Code.__table__.c.id == claims.c.code_id)
        .where(claims.c.shop_id == shop_id, claims.c.identity_email.in_(emails))
        .order_by(claims.c.id)
    )


def claim_view(row: Any) -> ClaimView:
    return ClaimView(
        email=row.identity_email,
        advocate_id=row.advocate_id,
        program_id=row.program_id,
        code=row.normalized,
        claimed_at=row.claimed_at,
    )


def _programs(session: Session, shop_id: int, ids: set[int]) -> dict[int, Program]:
    rows = session.scalars(
        select(ProgramRow).where(ProgramRow.shop_id == shop_id, ProgramRow.id.in_(ids))
    ).all()
    return {row.id: load_program(row) for row in rows}


def same_person(shop_id: int, customer_id: str | None, email: str | None) -> ColumnElement[bool]:
    """Conversions of the same customer (by platform customer id or identity email)."""
    matches: list[ColumnElement[bool]] = []
    if customer_id:
        matches.append(Conversion.customer_id == customer_id)
    if email:
        matches.append(Conversion.identity_email == email)
    return (Conversion.shop_id == shop_id) & (or_(*matches) if matches else false())


def _prior_orders(session: Session, shop_id: int, event: OrderEvent) -> int:
    person = same_person(shop_id, event.customer_id, identity_email(event.email))
    query = select(func.count()).where(
        person, Conversion.paid.is_(True), Conversion.order_id != event.order_id
    )
    return int(session.execute(query).scalar_one())


def _advocate_view(
    session: Session, row: Advocate, event: OrderEvent, hashes: dict[str, str], now: datetime
) -> AdvocateView:
    own = session.execute(
        select(Conversion.paid, Conversion.signals).where(
            same_person(row.shop_id, row.customer_id, row.identity_email),
            Conversion.order_id != event.order_id,
        )
    ).all()
    return advocate_view(
        row,
        event,
        hashes,
        own=[(paid, signals) for paid, signals in own],
        earned=_earned_rule_keys(session, row),
        recent=_recent_referrals(session, row, now),
    )


def advocate_view(
    row: Any,
    event: OrderEvent,
    hashes: dict[str, str],
    *,
    own: Sequence[tuple[bool, dict[str, str] | None]],
    earned: frozenset[str],
    recent: int,
) -> AdvocateView:
    """The advocate as `decide` sees them for `event`, from their row (ORM or Core: id,
    program_id, email, customer_id, status, successful_referrals, debt, variant), their own
    other orders as (paid, stored signal hashes), the rule keys of their unreversed rewards
    and their referrals of the last 24 hours."""
    known = _known_signals(event, hashes, [signals or {} for _, signals in own])
    return AdvocateView(
        id=row.id,
        program_id=row.program_id,
        email=row.email,
        customer_id=row.customer_id,
        active=row.status is AdvocateStatus.ACTIVE,
        successful_referrals=row.successful_referrals,
        earned_rule_keys=earned,
        referrals_last_24h=recent,
        has_ordered=any(paid for paid, _ in own),
        debt=row.debt,
        variant=row.variant,
        **known,
    )


def _known_signals(
    event: OrderEvent, hashes: dict[str, str], stored: Iterable[dict[str, str]]
) -> dict[str, Any]:
    """The order's own signal values that the advocate's past orders also had (by hash)."""
    matched = {
        name for signals in stored for name, value in signals.items() if hashes.get(name) == value
    }
    s = event.signals
    values: dict[str, tuple[str, object]] = {
        "ip": ("known_ips", s.browser_ip),
        "device": ("known_devices", (s.browser_ip, s.user_agent)),
        "shipping": ("known_shipping_fingerprints", s.shipping_fingerprint),
        "payment": ("known_payment_fingerprints", s.payment_fingerprint),
    }
    return {
        field: frozenset({value} if name in matched else ())
        for name, (field, value) in values.items()
    }


def _earned_rule_keys(session: Session, row: Advocate) -> frozenset[str]:
    keys = session.scalars(
        select(Reward.rule_key).where(
            Reward.shop_id == row.shop_id,
            Reward.advocate_id == row.id,
            Reward.beneficiary == Beneficiary.ADVOCATE,
            Reward.status != RewardStatus.REVERSED,
        )
    ).all()
    return frozenset(keys)


def _recent_referrals(session: Session, row: Advocate, now: datetime) -> int:
    query = select(func.count()).where(
        Referral.shop_id == row.shop_id,
        Referral.advocate_id == row.id,
        Referral.created_at >= now - timedelta(hours=24),
    )
    return int(session.execute(query).scalar_one())


def cap_usage(
    session: Session, programs: dict[int, Program], advocates: Iterable[Advocate], now: datetime
) -> dict[CapKey, CapUsage]:
    usage: dict[CapKey, CapUsage] = {}
    for advocate in advocates:
        program = programs.get(advocate.program_id)
        if program is None:
            continue
        for key, start in caps.usage_windows(program, advocate.id, now):
            if key not in usage:
                usage[key] = _usage(session, program, key, start)
    return usage


def _usage(session: Session, program: Program, key: CapKey, start: datetime | None) -> CapUsage:
    scope, owner, _period = key
    referral_filter = [
        Referral.shop_id == program.shop_id,
        Referral.program_id == program.id,
        Referral.status.in_(COUNTED_REFERRAL_STATUSES),
    ]
    reward_filter = [
        Reward.shop_id == program.shop_id,
        Reward.program_id == program.id,
        Reward.beneficiary == Beneficiary.ADVOCATE,
        Reward.status != RewardStatus.REVERSED,
    ]
    if scope is CapScope.ADVOCATE:
        referral_filter.append(Referral.advocate_id == owner)
        reward_filter.append(Reward.advocate_id == owner)
    if start is not None:
        referral_filter.append(Referral.created_at >= start)
        reward_filter.append(Reward.created_at >= start)
    # COUNT caps count rewarded referrals: those with at least one advocate reward.
    rewarded = select(Reward.referral_id).where(*reward_filter)
    count = session.execute(
        select(func.count()).where(*referral_filter, Referral.id.in_(rewarded))
    ).scalar_one()
    amount = session.execute(
        select(func.coalesce(func.sum(Reward.value), 0)).where(*reward_filter)
    ).scalar_one()
    return CapUsage(count=int(count), amount=Decimal(str(amount)))
