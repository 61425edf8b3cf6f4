"""What the rules engine's Snapshots are made of: the codes an order names, the keyed hashes of its
fraud signals, programs, code / claim / advocate views and cap usage. `snapshot_batches` loads
the Snapshots (`load_snapshot` for one order, `snapshots_for` for a chunk's)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.orm import Session

from ..db import among
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


def claims_query(shop_id: int, emails: Sequence[str], dialect: str) -> Select[Any]:
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
        .where(claims.c.shop_id == shop_id, among(claims.c.identity_email, emails, dialect))
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


def same_person(shop_id: int, customer_id: str | None, email: str | None) -> ColumnElement[bool]:
    """Conversions of the same customer (by platform customer id or identity email)."""
    matches: list[ColumnElement[bool]] = []
    if customer_id:
        matches.append(Conversion.customer_id == customer_id)
    if email:
        matches.append(Conversion.identity_email == email)
    return (Conversion.shop_id == shop_id) & (or_(*matches) if matches else false())


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
