"""Friends' claims: in a per-friend program, a friend who follows an advocate's link enters
their email and gets a single-use code of their own, bound to that email.

`claim_friend_code` is idempotent per (program, identity email), decided by the `claims`
unique constraint, also under concurrent claims: a second claim by the same inbox returns the
same code (bound to that email, it is useless to anyone else), whichever advocate's link it
came through, and the answer does not say whether the code is new. The advocate's own inbox
is refused (`SelfReferral`). The new FRIEND code carries the friend's identity email (what
the rules engine matches orders against) and, until it is in the store, the address as typed
(`codes.store_email`, what the store binds it to); it is due for the store at once, pushed by
`friend_code_jobs.push_code` right after the caller commits, else by the worker's job. The
caller owns the transaction; every query is scoped to the shop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain.codes import Chooser, generate_friend_code
from ..domain.decisions import CodeKind
from ..domain.emails import identity_email, normalize_email
from ..domain.programs import ClaimMode
from ..errors import FieldError, NotFound, ValidationError
from ..models import Advocate, AdvocateStatus, Claim, Code, ProgramStatus
from ..models import Program as ProgramRow
from .advocates import add_new_code
from .snapshots import load_program


class SelfReferral(ValidationError):
    """The email reaches the advocate's own inbox: an advocate gets no friend code."""

    def __init__(self) -> None:
        super().__init__([FieldError("email", "is the advocate's own address")])


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimedCode:
    code_id: int
    code: str  # display form, e.g. "FR-7Q2K-9XPA-MN4D"
    created: bool  # False when this inbox had claimed before (the same code)


def claim_friend_code(
    session: Session,
    shop_id: int,
    *,
    program_id: int,
    advocate_id: int,
    email: str,
    now: datetime,
    chooser: Chooser | None = None,
) -> ClaimedCode:
    """The friend's code for `email` in the program, claimed through the advocate's link.

    Raises ValidationError("email") for an address that is not one, SelfReferral for the
    advocate's own inbox (checked first, also when that inbox claimed before through another
    link), NotFound for a program that is not an active per-friend program of the shop or an
    advocate who is not active in it, Conflict when no free code could be generated.
    """
    typed, identity = normalize_email(email), identity_email(email)
    if typed is None or identity is None:
        raise ValidationError.single("email", "must be a valid email address")
    advocate = _advocate(session, shop_id, program_id, advocate_id)
    if identity == advocate.identity_email:
        raise SelfReferral()
    existing = _claimed(session, shop_id, program_id, identity)
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            code = _new_code(session, advocate, identity, typed, now, chooser)
            session.add(
                Claim(shop_id=shop_id, program_id=program_id, advocate_id=advocate.id,
                      identity_email=identity, code_id=code.id, claimed_at=now)
            )  # fmt: skip
            session.flush()
    except IntegrityError:  # claimed concurrently by the same inbox: that claim wins
        existing = _claimed(session, shop_id, program_id, identity)
        if existing is None:
            raise
        return existing
    return ClaimedCode(code_id=code.id, code=code.code, created=True)


def _advocate(session: Session, shop_id: int, program_id: int, advocate_id: int) -> Advocate:
    row = session.execute(
        select(Advocate, ProgramRow)
        .join(ProgramRow, ProgramRow.id == Advocate.program_id)
        .where(
            Advocate.shop_id == shop_id,
            Advocate.id == advocate_id,
            Advocate.program_id == program_id,
            Advocate.status == AdvocateStatus.ACTIVE,
            ProgramRow.shop_id == shop_id,
            ProgramRow.status == ProgramStatus.ACTIVE,
        )
    ).one_or_none()
    if row is None or load_program(row[1]).claim_mode is not ClaimMode.PER_FRIEND:
        raise NotFound("program", program_id)
    return row[0]


def _claimed(session: Session, shop_id: int, program_id: int, identity: str) -> ClaimedCode | None:
    row = session.execute(
        select(Code.id, Code.code)
        .join(Claim, Claim.code_id == Code.id)
        .where(
            Claim.shop_id == shop_id,
            Claim.program_id == program_id,
            Claim.identity_email == identity,
            Code.shop_id == shop_id,
        )
    ).one_or_none()
    return None if row is None else ClaimedCode(code_id=row.id, code=row.code, created=False)


def _new_code(
    session: Session,
    advocate: Advocate,
    identity: str,
    typed: str,
    now: datetime,
    chooser: Chooser | None,
) -> Code:
    return add_new_code(
        session,
        advocate,
        kind=CodeKind.FRIEND,
        generate=lambda: generate_friend_code(chooser=chooser),
        now=now,
        friend_email=identity,
        store_email=typed,
    )
