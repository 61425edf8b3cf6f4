"""The timed shopper emails, found by the worker: expiry reminders and share nudges.

- Expiry reminder: an issued reward with a checkout code, unused, expiring within the program's
  `emails.reminder_days_before`; once per reward.
- Share nudge: an advocate of an active program who joined `emails.nudge_after_days` ago or
  earlier (but at most NUDGE_WINDOW before that, so switching nudges on does not write to every
  advocate of the past) and never shared: no click on their code, no invitation sent, no
  referral; once per advocate.

"Once" is the outbox's dedup key, and the queries leave out what already has its row, so each
run only looks at new candidates. Every query is scoped to one program's shop.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, String, and_, cast, exists, literal, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from ..domain.decisions import Beneficiary, CodeKind
from ..domain.lifecycle import RewardStatus
from ..domain.programs import Program, ShopperEmail
from ..models import (
    Advocate,
    AdvocateStatus,
    Click,
    Code,
    Conversion,
    OutboxMessage,
    ProgramStatus,
    Referral,
    Reward,
    Shop,
    ShopStatus,
)
from ..models import Program as ProgramRow
from ..models.shopper_emails import FriendInvite
from .email_facts import CHECKOUT_CODE_KINDS
from .shopper_emails import queue_expiry_reminder, queue_share_nudge
from .snapshots import load_program

NUDGE_WINDOW = timedelta(days=30)
BATCH = 200  # candidates per program and run


def queue_expiry_reminders(session: Session, *, now: datetime, limit: int = BATCH) -> int:
    """Queue the reminders due now; returns how many were queued."""
    queued = 0
    for program in programs_sending(session, ShopperEmail.EXPIRY_REMINDER):
        horizon = now + timedelta(days=program.emails.reminder_days_before)
        rewards = session.scalars(
            select(Reward)
            .where(
                Reward.shop_id == program.shop_id,
                Reward.program_id == program.id,
                Reward.status == RewardStatus.ISSUED,
                Reward.kind.in_(CHECKOUT_CODE_KINDS),
                Reward.expires_at > now,
                Reward.expires_at <= horizon,
                _has_recipient(),
                ~queued_before(ShopperEmail.EXPIRY_REMINDER, Reward.shop_id, Reward.id),
            )
            .order_by(Reward.expires_at, Reward.id)
            .limit(limit)
        )
        queued += sum(queue_expiry_reminder(session, r, program, now) for r in rewards)
    return queued


def queue_share_nudges(session: Session, *, now: datetime, limit: int = BATCH) -> int:
    """Queue the nudges due now; returns how many were queued."""
    queued = 0
    for program in programs_sending(session, ShopperEmail.SHARE_NUDGE, active_only=True):
        due = now - timedelta(days=program.emails.nudge_after_days)
        advocates = session.scalars(
            select(Advocate)
            .where(
                Advocate.shop_id == program.shop_id,
                Advocate.program_id == program.id,
                Advocate.status == AdvocateStatus.ACTIVE,
                Advocate.created_at <= due,
                Advocate.created_at > due - NUDGE_WINDOW,
                _has_share_code(),  # the A/B test's holdout has none: nothing to nudge about
                ~_shared(),
                ~queued_before(ShopperEmail.SHARE_NUDGE, Advocate.shop_id, Advocate.id),
            )
            .order_by(Advocate.created_at, Advocate.id)
            .limit(limit)
        )
        queued += sum(queue_share_nudge(session, a, program, now) for a in advocates)
    return queued


def programs_sending(
    session: Session, kind: ShopperEmail, *, active_only: bool = False
) -> Iterator[Program]:
    """The programs of installed shops that send `kind` (and are active, if asked)."""
    query = (
        select(ProgramRow)
        .join(Shop, Shop.id == ProgramRow.shop_id)
        .where(Shop.status == ShopStatus.ACTIVE)
        .order_by(ProgramRow.id)
    )
    if active_only:
        query = query.where(ProgramRow.status == ProgramStatus.ACTIVE)
    for row in session.scalars(query).all():
        program = load_program(row)
        if program.emails.sends(kind):
            yield program


def queued_before(
    kind: ShopperEmail, shop_id: InstrumentedAttribute[int], row_id: InstrumentedAttribute[int]
) -> ColumnElement[bool]:
    """The outbox already holds `kind` for this row (dedup key `<kind>:<id>`)."""
    dedup_key = literal(f"{kind.value}:") + cast(row_id, String)
    return exists().where(OutboxMessage.shop_id == shop_id, OutboxMessage.dedup_key == dedup_key)


def _has_recipient() -> ColumnElement[bool]:
    """The reward has someone to write to (see `shopper_emails.reward_recipient`)."""
    active_advocate = exists().where(
        Advocate.shop_id == Reward.shop_id,
        Advocate.id == Reward.advocate_id,
        Advocate.status == AdvocateStatus.ACTIVE,
    )
    friend_email = exists().where(
        Conversion.shop_id == Reward.shop_id,
        Conversion.id == Reward.conversion_id,
        Conversion.email.is_not(None),
    )
    return or_(
        and_(Reward.beneficiary == Beneficiary.ADVOCATE, active_advocate),
        and_(Reward.beneficiary == Beneficiary.FRIEND, friend_email),
    )


def _has_share_code() -> ColumnElement[bool]:
    return exists().where(
        Code.shop_id == Advocate.shop_id,
        Code.advocate_id == Advocate.id,
        Code.kind == CodeKind.ADVOCATE,
    )


def _shared() -> ColumnElement[bool]:
    """The advocate shared: a click on one of their codes, an invitation, or a referral."""
    clicked = exists().where(
        Code.shop_id == Advocate.shop_id,
        Code.advocate_id == Advocate.id,
        Click.shop_id == Advocate.shop_id,
        Click.code_id == Code.id,
    )
    invited = exists().where(
        FriendInvite.shop_id == Advocate.shop_id, FriendInvite.advocate_id == Advocate.id
    )
    referred = exists().where(
        Referral.shop_id == Advocate.shop_id, Referral.advocate_id == Advocate.id
    )
    return or_(clicked, invited, referred)
