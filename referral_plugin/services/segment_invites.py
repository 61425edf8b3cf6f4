"""Inviting a segment's customers (issue 7): each becomes an advocate of the program and gets
the welcome email with their code and links, the email automatic enrollment sends.

The merchant picks customers of a segment by email, or asks for "all": at most MAX_INVITES per
call, best first; the answer says how many remain, so they call again. Only customers of the
segment can be invited: an address that is not one is refused (ValidationError listing them),
so a merchant can only write to people who bought. Idempotent: enrollment is unique per
(program, identity email) and the welcome is queued only by the call that created the
advocate (and once per advocate by its outbox dedup key), so repeating an invite sends
nothing twice. A shop enrolls at most DAILY_CAP customers a day this way (a counter in
`rate_limit_counters`, one row per shop and UTC day), so a merchant pressing "invite all"
again and again cannot mail their whole customer base at once by accident. Each call records
one audit entry with its counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..domain.emails import identity_email
from ..domain.experiments import EnrollmentSource
from ..domain.programs import ShopperEmail
from ..errors import Conflict, NotFound, ValidationError
from ..models import Advocate, ProgramStatus, RateLimitCounter
from ..models import Program as ProgramRow
from .advocates import enroll_advocate
from .audit import record_audit
from .email_unsubscribes import recipient_hash, unsubscribed_among
from .experiment_assignments import RandomSource
from .rate_limits import window_start
from .segments import (
    SegmentCustomer,
    SegmentQuery,
    count_members,
    describe_customers,
    members_now,
    resolve_segment,
    rows_among,
)
from .shopper_emails import queue_welcome
from .snapshots import load_program

MAX_INVITES = 500  # customers per call: bounded work per request
DAILY_CAP = 2000  # customers a shop invites from segments per UTC day
DAY = timedelta(days=1)
CAP_SCOPE = "segment_invite:day"
CAP_KEY = "shop"  # one counter per shop: no personal data in the key


@dataclass(frozen=True, slots=True, kw_only=True)
class InviteRequest:
    query: SegmentQuery
    emails: tuple[str, ...] | None = None  # None: the first MAX_INVITES of the segment


@dataclass(frozen=True, slots=True, kw_only=True)
class InviteResult:
    invited: int  # enrolled now, each with a welcome email queued
    already_members: int  # advocates of the program already: nothing sent
    skipped: dict[str, int]  # reason -> customers: "unsubscribed", "daily_limit", "held_out"
    remaining: int  # customers still in the segment (not invited, not unsubscribed)
    more: bool  # call again: customers remain and today's limit allows more
    daily_remaining: int  # invitations the shop may still send today

    def as_dict(self) -> dict[str, Any]:
        return {
            "invited": self.invited,
            "already_members": self.already_members,
            "skipped": dict(sorted(self.skipped.items())),
            "remaining": self.remaining,
            "more": self.more,
            "daily_remaining": self.daily_remaining,
        }


def invite_segment(
    session: Session,
    shop_id: int,
    program_id: int,
    wanted: InviteRequest,
    *,
    email_key: bytes,
    actor: str,
    now: datetime,
    daily_cap: int = DAILY_CAP,
    random_value: RandomSource | None = None,
) -> InviteResult:
    """Enroll the chosen customers of the segment and queue their welcome emails. Raises
    NotFound (program), Conflict (program paused, or not sending the welcome email) or
    ValidationError("emails") naming addresses that are not customers of the segment."""
    program = _invitable_program(session, shop_id, program_id)
    chosen, already, skipped = _chosen(session, shop_id, program_id, wanted, email_key, now)
    allowed = _reserve(session, shop_id, len(chosen), now, daily_cap)
    if allowed < len(chosen):
        skipped["daily_limit"] += len(chosen) - allowed
    invited = 0
    for customer in chosen[:allowed]:
        outcome = _enroll(session, program, customer, now, random_value)
        invited += outcome == "invited"
        already += outcome == "already"
        skipped["held_out"] += outcome == "held_out"
    segment = resolve_segment(session, shop_id, program_id, wanted.query, now=now)
    remaining = count_members(session, segment, email_key=email_key)
    daily_remaining = max(0, daily_cap - _used_today(session, shop_id, now))
    result = InviteResult(
        invited=invited, already_members=already, skipped=+skipped, remaining=remaining,
        more=remaining > 0 and daily_remaining > 0, daily_remaining=daily_remaining,
    )  # fmt: skip
    record_audit(
        session, shop_id, actor=actor, action="segment.invite", subject_type="program",
        subject_id=program_id, now=now,
        details={"segment": wanted.query.segment.value, "mode": _mode(wanted), **result.as_dict()},
    )  # fmt: skip
    return result


def _invitable_program(session: Session, shop_id: int, program_id: int) -> Any:
    row = session.scalars(
        select(ProgramRow).where(ProgramRow.shop_id == shop_id, ProgramRow.id == program_id)
    ).one_or_none()
    if row is None:
        raise NotFound("program", program_id)
    if row.status is not ProgramStatus.ACTIVE:
        raise Conflict("the program is not active: activate it before inviting customers")
    program = load_program(row)
    if not program.emails.sends(ShopperEmail.WELCOME):
        raise Conflict("the program does not send the welcome email: switch it on first")
    return program


def _chosen(
    session: Session,
    shop_id: int,
    program_id: int,
    wanted: InviteRequest,
    email_key: bytes,
    now: datetime,
) -> tuple[list[SegmentCustomer], int, Counter[str]]:
    """The customers to enroll, how many chosen ones are advocates already, and the skipped."""
    if wanted.emails is None:
        segment = resolve_segment(session, shop_id, program_id, wanted.query, now=now)
        rows = members_now(session, segment, email_key=email_key, limit=MAX_INVITES)
        return describe_customers(session, segment, rows), 0, Counter()
    identities = {i for email in wanted.emails if (i := identity_email(email)) is not None}
    segment = resolve_segment(session, shop_id, program_id, wanted.query, now=now, only=identities)
    rows = rows_among(session, segment)
    found = {row.identity for row in rows}
    missing = [email for email in wanted.emails if identity_email(email) not in found]
    if missing:
        raise ValidationError.single(
            "emails", "not customers of this segment: " + ", ".join(missing)
        )
    members = _advocates(session, shop_id, program_id, identities)
    hashes = {recipient_hash(email_key, shop_id, i): i for i in found - members}
    unsubscribed = {hashes[h] for h in unsubscribed_among(session, shop_id, hashes)}
    left = [row for row in rows if row.identity not in members | unsubscribed]
    skipped = Counter({"unsubscribed": len(unsubscribed)})
    return describe_customers(session, segment, left), len(members), skipped


def _advocates(session: Session, shop_id: int, program_id: int, identities: set[str]) -> set[str]:
    return set(
        session.scalars(
            select(Advocate.identity_email).where(
                Advocate.shop_id == shop_id,
                Advocate.program_id == program_id,
                Advocate.identity_email.in_(sorted(identities)),
            )
        )
    )


def _enroll(
    session: Session,
    program: Any,
    customer: SegmentCustomer,
    now: datetime,
    random_value: RandomSource | None,
) -> str:
    """Enroll one customer and queue their welcome: "invited"; "already" when they were
    enrolled already; "held_out" when the program's A/B test put them in its holdout group
    (recorded for the test's results, never told: no code, no email)."""
    enrolled = enroll_advocate(
        session, program.shop_id, program.id, email=customer.email,
        first_name=customer.first_name, last_name=customer.last_name,
        customer_id=customer.customer_id, now=now, source=EnrollmentSource.INVITE,
        random_value=random_value,
    )  # fmt: skip
    if not enrolled.created:  # a concurrent invite, the join page or auto-enrollment was first
        return "already"
    if not enrolled.code:
        return "held_out"
    queue_welcome(session, session.get_one(Advocate, enrolled.id), program, now)
    return "invited"


def _mode(wanted: InviteRequest) -> str:
    return "all" if wanted.emails is None else "emails"


# --- the daily cap -----------------------------------------------------------------------------


def _reserve(session: Session, shop_id: int, wanted: int, now: datetime, cap: int) -> int:
    """Take up to `wanted` of today's invitations; returns how many were granted. The counter
    row is written first (and so locked until commit on PostgreSQL), so concurrent calls
    cannot both pass the cap."""
    if wanted == 0:
        return 0
    start = window_start(now, DAY)
    session.execute(  # earlier days: nothing reads them again
        delete(RateLimitCounter).where(
            *_today(shop_id, start)[:3], RateLimitCounter.window_start < start
        )
    )
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(RateLimitCounter).values(
        shop_id=shop_id, scope=CAP_SCOPE, key_hash=CAP_KEY, window_start=start, hits=wanted
    )
    hits = session.execute(
        statement.on_conflict_do_update(
            index_elements=["shop_id", "scope", "key_hash", "window_start"],
            set_={"hits": RateLimitCounter.hits + wanted},
        ).returning(RateLimitCounter.hits)
    ).scalar_one()
    granted = max(0, min(wanted, cap - (int(hits) - wanted)))
    if granted < wanted:
        session.execute(
            update(RateLimitCounter)
            .where(*_today(shop_id, start))
            .values(hits=RateLimitCounter.hits - (wanted - granted))
            .execution_options(synchronize_session=False)
        )
    return granted


def _used_today(session: Session, shop_id: int, now: datetime) -> int:
    used = session.scalar(
        select(RateLimitCounter.hits).where(*_today(shop_id, window_start(now, DAY)))
    )
    return int(used or 0)


def _today(shop_id: int, start: datetime) -> tuple[Any, ...]:
    return (
        RateLimitCounter.shop_id == shop_id,
        RateLimitCounter.scope == CAP_SCOPE,
        RateLimitCounter.key_hash == CAP_KEY,
        RateLimitCounter.window_start == start,
    )
