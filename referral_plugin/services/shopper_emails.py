"""Shopper emails recorded where they happen: each `queue_*` writes one outbox draft in the
caller's transaction (a transactional outbox), so an email exists exactly when its cause
committed.

A draft says what to tell whom (`{"draft": {"kind": ..., "reward_id": 42}}`), not the words:
the worker renders it later (`services.email_drafts`, in the recipient's language, with signed
links), checks the unsubscribes there and again before sending. That keeps the order path to one
insert and needs no secret here. Each kind is queued only while the program sends it
(`program.emails.sends(kind)`), and once per cause: the dedup key (`reward_pending:<reward id>`,
`welcome:<advocate id>`, `invite:<invite id>`, ...) is unique per shop in the outbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.decisions import Beneficiary
from ..domain.programs import Program, ShopperEmail
from ..models import Advocate, AdvocateStatus, Conversion, Reward
from ..models import Program as ProgramRow
from .outbox import enqueue_draft
from .snapshots import load_program


def queue_reward_pending(session: Session, reward: Reward, now: datetime) -> bool:
    """The reward became held (its order was paid): tell its beneficiary until when. Returns
    True when a draft was queued now."""
    return _queue_reward(session, reward, ShopperEmail.REWARD_PENDING, now)


def queue_reward_issued(session: Session, reward: Reward, now: datetime) -> bool:
    """The reward was issued into the store: send its code to its beneficiary."""
    return _queue_reward(session, reward, ShopperEmail.REWARD_ISSUED, now)


def queue_expiry_reminder(
    session: Session, reward: Reward, program: Program, now: datetime
) -> bool:
    """The issued reward expires soon and is unused: remind its beneficiary (once)."""
    return _queue_reward(session, reward, ShopperEmail.EXPIRY_REMINDER, now, program)


def queue_welcome(session: Session, advocate: Advocate, program: Program, now: datetime) -> bool:
    """An advocate enrolled automatically: their code, share link and status link."""
    return _queue_advocate(session, advocate, program, ShopperEmail.WELCOME, now)


def queue_share_nudge(
    session: Session, advocate: Advocate, program: Program, now: datetime
) -> bool:
    """An advocate joined a while ago and never shared: a reminder of their link (once)."""
    return _queue_advocate(session, advocate, program, ShopperEmail.SHARE_NUDGE, now)


def queue_invite(
    session: Session,
    advocate: Advocate,
    program: Program,
    *,
    invite_id: int,
    friend_email: str,
    friend_hash: str,
    language: str,
    now: datetime,
) -> bool:
    """The advocate's invitation to one friend (`services.email_invites` decides whether)."""
    if not program.emails.sends(ShopperEmail.INVITE):
        return False
    return queue_draft(
        session, advocate.shop_id, ShopperEmail.INVITE, friend_email, f"invite:{invite_id}",
        {"advocate_id": advocate.id, "language": language}, now=now,
        unsubscribe_hash=friend_hash,
    )  # fmt: skip


def queue_draft(
    session: Session,
    shop_id: int,
    kind: ShopperEmail,
    recipient: str,
    dedup_key: str,
    draft: dict[str, Any],
    *,
    now: datetime,
    unsubscribe_hash: str | None = None,
) -> bool:
    """One draft of `kind` to `recipient`, unless `dedup_key` was queued before."""
    values = draft_values(shop_id, kind, recipient, dedup_key, draft, unsubscribe_hash)
    return enqueue_draft(session, **values, now=now)


def reward_draft(
    shop_id: int, kind: ShopperEmail, recipient: str, reward_id: int
) -> dict[str, Any]:
    """The draft of a reward's email of `kind` (once per reward and kind), as `enqueue_draft`'s
    and `enqueue_drafts`' arguments."""
    return draft_values(
        shop_id, kind, recipient, f"{kind.value}:{reward_id}", {"reward_id": reward_id}
    )


def draft_values(
    shop_id: int,
    kind: ShopperEmail,
    recipient: str,
    dedup_key: str,
    draft: dict[str, Any],
    unsubscribe_hash: str | None = None,
) -> dict[str, Any]:
    """What an outbox draft holds: what to tell whom, not the words."""
    payload: dict[str, Any] = {"draft": {"kind": kind.value, **draft}}
    if unsubscribe_hash is not None:
        payload["unsubscribe_hash"] = unsubscribe_hash
    return {
        "shop_id": shop_id, "kind": kind.value, "recipient": recipient, "dedup_key": dedup_key,
        "payload": payload,
    }  # fmt: skip


def _queue_advocate(
    session: Session, advocate: Advocate, program: Program, kind: ShopperEmail, now: datetime
) -> bool:
    if not program.emails.sends(kind) or advocate.status is not AdvocateStatus.ACTIVE:
        return False
    return queue_draft(
        session, advocate.shop_id, kind, advocate.email, f"{kind.value}:{advocate.id}",
        {"advocate_id": advocate.id}, now=now,
    )  # fmt: skip


def _queue_reward(
    session: Session,
    reward: Reward,
    kind: ShopperEmail,
    now: datetime,
    program: Program | None = None,
) -> bool:
    program = program or _program(session, reward)
    if not program.emails.sends(kind):
        return False
    recipient = reward_recipient(session, reward)
    if recipient is None:
        return False
    return enqueue_draft(
        session, **reward_draft(reward.shop_id, kind, recipient, reward.id), now=now
    )


def reward_recipient(session: Session, reward: Reward) -> str | None:
    """Who hears about a reward: the advocate (while active) for theirs, the friend's order
    email for a friend's reward; None when there is nobody to write to."""
    if reward.beneficiary is Beneficiary.ADVOCATE and reward.advocate_id is not None:
        return session.scalars(
            select(Advocate.email).where(
                Advocate.shop_id == reward.shop_id,
                Advocate.id == reward.advocate_id,
                Advocate.status == AdvocateStatus.ACTIVE,
            )
        ).one_or_none()
    if reward.beneficiary is Beneficiary.FRIEND:
        return session.scalars(
            select(Conversion.email).where(
                Conversion.shop_id == reward.shop_id, Conversion.id == reward.conversion_id
            )
        ).one_or_none()
    return None


def _program(session: Session, reward: Reward) -> Program:
    row = session.get(ProgramRow, reward.program_id)  # mostly in the session already
    assert row is not None and row.shop_id == reward.shop_id
    return load_program(row)
