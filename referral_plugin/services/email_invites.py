"""An advocate invites friends by email, from the store: one invitation per friend address and
advocate, ever, never to the advocate themself, never to an unsubscribed address.

Each address is recorded as a keyed hash in `friend_invites` (the unique row is the "once,
ever"); only a new row queues an invitation draft. The caller answers the same whatever
happened to each address, so nobody learns whether an address was invited before or
unsubscribed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..domain.emails import identity_email, normalize_email
from ..errors import NotFound, ValidationError
from ..models import Advocate, AdvocateStatus
from ..models import Program as ProgramRow
from ..models.shopper_emails import FriendInvite
from .email_unsubscribes import is_unsubscribed, recipient_hash
from .shopper_emails import queue_invite
from .snapshots import load_program

MAX_FRIENDS = 5


def invite_friends(
    session: Session,
    shop_id: int,
    advocate_id: int,
    friends: Sequence[str],
    *,
    language: str,
    email_key: bytes,
    now: datetime,
) -> int:
    """Queue an invitation to each new friend address (at most MAX_FRIENDS); returns how many
    were queued. Raises NotFound (no such active advocate) or ValidationError("emails")."""
    addresses = _addresses(friends)
    advocate = session.scalars(
        select(Advocate).where(
            Advocate.shop_id == shop_id,
            Advocate.id == advocate_id,
            Advocate.status == AdvocateStatus.ACTIVE,
        )
    ).one_or_none()
    if advocate is None:
        raise NotFound("advocate", advocate_id)
    program = load_program(
        session.scalars(
            select(ProgramRow).where(
                ProgramRow.shop_id == shop_id, ProgramRow.id == advocate.program_id
            )
        ).one()
    )
    queued = 0
    for address, identity in addresses.items():
        if identity == advocate.identity_email:
            continue
        friend_hash = recipient_hash(email_key, shop_id, identity)
        invite_id = _record_invite(session, advocate, friend_hash, now)
        if invite_id is None or is_unsubscribed(session, shop_id, friend_hash):
            continue
        queued += queue_invite(
            session, advocate, program, invite_id=invite_id, friend_email=address,
            friend_hash=friend_hash, language=language, now=now,
        )  # fmt: skip
    return queued


def _addresses(friends: Sequence[str]) -> dict[str, str]:
    """Normalized address -> identity, one per inbox, in the order given."""
    found: dict[str, str] = {}
    for friend in friends:
        normalized, identity = normalize_email(friend), identity_email(friend)
        if normalized is None or identity is None:
            raise ValidationError.single("emails", "must be email addresses")
        if identity not in found.values():
            found[normalized] = identity
    if not found or len(found) > MAX_FRIENDS:
        raise ValidationError.single("emails", f"must be 1 to {MAX_FRIENDS} addresses")
    return found


def _record_invite(
    session: Session, advocate: Advocate, friend_hash: str, now: datetime
) -> int | None:
    """The new invite's id, or None when the advocate invited this address before."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        module.insert(FriendInvite)
        .values(
            shop_id=advocate.shop_id,
            advocate_id=advocate.id,
            friend_hash=friend_hash,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["shop_id", "advocate_id", "friend_hash"])
        .returning(FriendInvite.id)
    )
    return session.execute(statement).scalar_one_or_none()
