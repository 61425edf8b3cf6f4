"""Advocate use cases: enroll (idempotent, with a unique share code), read, list, update."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain.codes import Chooser, generate_code, normalize_code
from ..domain.decisions import CodeKind
from ..domain.emails import identity_email, normalize_email
from ..domain.experiments import EnrollmentSource, in_holdout
from ..domain.languages import supported_language
from ..domain.programs import Program
from ..errors import Conflict, FieldError, NotFound, ValidationError
from ..models import Advocate, AdvocateStatus, Code
from ..models import Program as ProgramRow
from . import merchant_webhooks
from .experiment_assignments import RandomSource, assign_group
from .snapshots import load_program

CODE_ATTEMPTS = 10
UPDATABLE_FIELDS = frozenset({"status", "first_name", "last_name"})


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrolledAdvocate:
    id: int
    program_id: int
    email: str
    first_name: str | None
    last_name: str | None
    code: str  # display form, e.g. "ANNA-7Q2K-9XPA"; "" for a held-out advocate
    created: bool  # False when the advocate was already enrolled
    variant: str | None = None  # the A/B group; "holdout": no code, no program


def enroll_advocate(
    session: Session,
    shop_id: int,
    program_id: int,
    *,
    email: str,
    first_name: str | None = None,
    last_name: str | None = None,
    customer_id: str | None = None,
    language: str | None = None,
    now: datetime,
    chooser: Chooser | None = None,
    source: EnrollmentSource = EnrollmentSource.API,
    random_value: RandomSource | None = None,
) -> EnrolledAdvocate:
    """Enroll `email` in the program with a new share code, or return the existing enrollment
    (same advocate and code, created=False). Idempotent per (program, identity email), also
    under concurrent enrollment. The new code is due for the store at once: the worker's
    `sync_friend_codes` job adds it to the program's friend offer, or a caller that must show
    it only once it works calls `friend_code_jobs.push_advocate_code` after committing.
    Raises ValidationError("email"), NotFound (program) or Conflict when no free code could
    be generated. `language` (the page's, when joining there) is kept for the advocate's
    emails when supported; an existing enrollment keeps its own.

    A/B tests: a new advocate of a program whose experiment assigns now is assigned a group
    once (`experiment_assignments.assign_group`, drawn from `random_value`, recorded with
    `source`). One assigned to the holdout is recorded but gets no code (`code == ""`) and no
    `advocate.joined` event; enrolling again keeps the group, and gets the code only once the
    program no longer holds them out (the experiment was removed)."""
    normalized, identity = normalize_email(email), identity_email(email)
    if normalized is None or identity is None:
        raise ValidationError.single("email", "must be a valid email address")
    row = session.scalars(
        select(ProgramRow).where(ProgramRow.shop_id == shop_id, ProgramRow.id == program_id)
    ).one_or_none()
    if row is None:
        raise NotFound("program", program_id)
    program = load_program(row)
    existing = _enrolled(session, shop_id, program_id, identity)
    if existing is not None:
        return _released(session, existing, program, now, chooser)
    advocate = Advocate(
        shop_id=shop_id,
        program_id=program_id,
        email=normalized,
        identity_email=identity,
        customer_id=customer_id,
        first_name=first_name,
        last_name=last_name,
        status=AdvocateStatus.ACTIVE,
        currency=row.currency,
        balance=Decimal(0),
        points=0,
        debt=Decimal(0),
        successful_referrals=0,
        created_at=now,
        language=supported_language(language),
    )
    try:
        with session.begin_nested():
            session.add(advocate)
            session.flush()
            variant = assign_group(
                session, advocate, program, source=source, now=now, random_value=random_value
            )
            held_out = in_holdout(program, variant)
            code = None if held_out else _new_code(session, advocate, now, chooser)
    except IntegrityError:  # enrolled concurrently: the other enrollment wins
        existing = _enrolled(session, shop_id, program_id, identity)
        if existing is None:
            raise
        return existing
    if code is not None:
        merchant_webhooks.record_advocate_joined(session, advocate, code.code, now)
    return _view(advocate, code, created=True)


def _released(
    session: Session,
    existing: EnrolledAdvocate,
    program: Program,
    now: datetime,
    chooser: Chooser | None,
) -> EnrolledAdvocate:
    """An existing enrollment; a held-out advocate whom the program no longer holds out (its
    experiment was removed) gets their code now."""
    if existing.code or in_holdout(program, existing.variant):
        return existing
    advocate = session.get_one(Advocate, existing.id)
    code = _new_code(session, advocate, now, chooser)
    merchant_webhooks.record_advocate_joined(session, advocate, code.code, now)
    return _view(advocate, code, created=False)


def _new_code(session: Session, advocate: Advocate, now: datetime, chooser: Chooser | None) -> Code:
    session.flush()
    return add_new_code(
        session,
        advocate,
        kind=CodeKind.ADVOCATE,
        generate=lambda: generate_code(advocate.first_name, chooser=chooser),
        now=now,
    )


def add_new_code(
    session: Session,
    advocate: Advocate,
    *,
    kind: CodeKind,
    generate: Callable[[], str],
    now: datetime,
    **columns: Any,
) -> Code:
    """Insert a new code of `advocate` with a display form from `generate`, trying again on a
    clash with an existing code (the shop's unique normalized code); due for the store at once
    (`friend_codes`). Raises Conflict when no attempt found a free code."""
    for _ in range(CODE_ATTEMPTS):
        display = generate()
        code = Code(
            shop_id=advocate.shop_id,
            program_id=advocate.program_id,
            advocate_id=advocate.id,
            kind=kind,
            code=display,
            normalized=normalize_code(display),
            created_at=now,
            store_next_attempt_at=now,  # due for the friend-code job (`friend_codes`)
            **columns,
        )
        try:
            with session.begin_nested():
                session.add(code)
        except IntegrityError:
            continue
        return code
    raise Conflict(f"no free {kind.value} code after several attempts")


def _enrolled(
    session: Session, shop_id: int, program_id: int, identity: str
) -> EnrolledAdvocate | None:
    row = session.execute(
        select(Advocate, Code)
        .outerjoin(Code, (Code.advocate_id == Advocate.id) & (Code.kind == CodeKind.ADVOCATE))
        .where(
            Advocate.shop_id == shop_id,
            Advocate.program_id == program_id,
            Advocate.identity_email == identity,
        )
        .order_by(Code.id)
        .limit(1)
    ).one_or_none()
    return None if row is None else _view(row[0], row[1], created=False)


def _view(advocate: Advocate, code: Code | None, *, created: bool) -> EnrolledAdvocate:
    return EnrolledAdvocate(
        id=advocate.id,
        program_id=advocate.program_id,
        email=advocate.email,
        first_name=advocate.first_name,
        last_name=advocate.last_name,
        code="" if code is None else code.code,
        created=created,
        variant=advocate.variant,
    )


def advocate_to_dict(advocate: Advocate, code: str | None) -> dict[str, Any]:
    """JSON-ready view of an advocate: money as strings, time ISO 8601 UTC."""
    return {
        "id": advocate.id,
        "program_id": advocate.program_id,
        "email": advocate.email,
        "first_name": advocate.first_name,
        "last_name": advocate.last_name,
        "customer_id": advocate.customer_id,
        "status": advocate.status.value,
        "code": code,
        "currency": advocate.currency,
        "balance": str(advocate.balance),
        "points": advocate.points,
        "debt": str(advocate.debt),
        "successful_referrals": advocate.successful_referrals,
        "variant": advocate.variant,
        "created_at": advocate.created_at.isoformat(),
    }


def _with_codes(session: Session, query: Any) -> list[dict[str, Any]]:
    rows = session.execute(
        query.outerjoin(
            Code, (Code.advocate_id == Advocate.id) & (Code.kind == CodeKind.ADVOCATE)
        ).add_columns(Code.code)
    ).all()
    seen: dict[int, dict[str, Any]] = {}
    for advocate, code in rows:
        seen.setdefault(advocate.id, advocate_to_dict(advocate, code))
    return list(seen.values())


def get_advocate(session: Session, shop_id: int, advocate_id: int) -> dict[str, Any]:
    """The advocate as a dict (see advocate_to_dict); raises NotFound."""
    found = _with_codes(
        session, select(Advocate).where(Advocate.shop_id == shop_id, Advocate.id == advocate_id)
    )
    if not found:
        raise NotFound("advocate", advocate_id)
    return found[0]


def list_advocates(
    session: Session,
    shop_id: int,
    *,
    program_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The shop's advocates, oldest first, optionally of one program; paged."""
    ids = select(Advocate.id).where(Advocate.shop_id == shop_id)
    if program_id is not None:
        ids = ids.where(Advocate.program_id == program_id)
    page = ids.order_by(Advocate.id).limit(max(0, min(limit, 500))).offset(max(0, offset))
    query = select(Advocate).where(Advocate.id.in_(page.scalar_subquery())).order_by(Advocate.id)
    return _with_codes(session, query)


def update_advocate(
    session: Session, shop_id: int, advocate_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    """Change status (active/blocked), first_name or last_name; returns the advocate dict.

    Raises NotFound or ValidationError naming each bad field. Idempotent."""
    advocate = session.scalars(
        select(Advocate).where(Advocate.shop_id == shop_id, Advocate.id == advocate_id)
    ).one_or_none()
    if advocate is None:
        raise NotFound("advocate", advocate_id)
    for name, value in _validated_update(data).items():
        setattr(advocate, name, value)
    session.flush()
    return get_advocate(session, shop_id, advocate_id)


def _validated_update(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError.single("body", "must be an object")
    errors: list[tuple[str, str]] = [
        (k, "unknown field") for k in data if k not in UPDATABLE_FIELDS
    ]
    values: dict[str, Any] = {}
    if "status" in data:
        try:
            values["status"] = AdvocateStatus(data["status"])
        except ValueError:
            errors.append(("status", "must be active or blocked"))
    for name in ("first_name", "last_name"):
        value = data.get(name)
        if name in data and value is not None and (not isinstance(value, str) or len(value) > 100):
            errors.append((name, "must be a string of at most 100 characters"))
        elif name in data:
            values[name] = value.strip() or None if isinstance(value, str) else None
    if errors:
        raise ValidationError([FieldError(f, m) for f, m in errors])
    return values
