"""Program use cases: create, update (partial), check a draft, read and list a shop's referral
programs. Changes made with an `actor` are recorded in the audit log (the changed top-level
parts, never their values)."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.program_codec import parse_program, program_to_dict
from ..domain.programs import Program
from ..errors import Conflict, FieldError, NotFound, ValidationError
from ..models import Program as ProgramRow
from ..models import ProgramStatus, Shop
from .audit import record_audit
from .experiment_assignments import assigned_variants
from .snapshots import load_program


def _validated(data: Any, *, shop_id: int, program_id: int, currency: str) -> Program:
    program, errors = parse_program(data, shop_id=shop_id, program_id=program_id, currency=currency)
    if program is None:
        raise ValidationError([FieldError(field, message) for field, message in errors])
    return program


def _validated_update(row: ProgramRow, data: dict[str, Any]) -> Program:
    """The stored program with the given top-level keys replaced, validated as a whole."""
    merged = {**row.config, **data}
    return _validated(merged, shop_id=row.shop_id, program_id=row.id, currency=row.currency)


def _status(program: Program) -> ProgramStatus:
    return ProgramStatus.ACTIVE if program.active else ProgramStatus.INACTIVE


def create_program(
    session: Session,
    shop_id: int,
    data: dict[str, Any],
    *,
    now: datetime,
    actor: str | None = None,
) -> Program:
    """Validate `data` and store a new program in the shop's currency; returns it with its id.

    Raises NotFound (shop) or ValidationError naming every wrong field. Not idempotent.
    """
    program = _validated(
        _experiment_starting(data, now),
        shop_id=shop_id,
        program_id=0,
        currency=shop_currency(session, shop_id),
    )
    row = ProgramRow(
        shop_id=shop_id,
        name=program.name,
        kind=program.kind,
        status=_status(program),
        currency=program.currency,
        public_id=new_public_id(),
        config={},
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    program = dataclasses.replace(program, id=row.id)
    row.config = program_to_dict(program)
    session.flush()
    _audit(session, program, actor, "program.created", sorted(data), now)
    return program


def draft_program(
    session: Session, shop_id: int, data: dict[str, Any], *, program_id: int | None = None
) -> Program:
    """The program `create_program` (no `program_id`) or `update_program` would store for
    `data`, validated the same way, without writing anything. Raises NotFound or
    ValidationError."""
    if program_id is None:
        currency = shop_currency(session, shop_id)
        return _validated(data, shop_id=shop_id, program_id=0, currency=currency)
    return _validated_update(_row(session, shop_id, program_id), data)


def new_public_id() -> str:
    """A program's public id: 16 URL-safe characters from 96 random bits (unguessable)."""
    return secrets.token_urlsafe(12)


def update_program(
    session: Session,
    shop_id: int,
    program_id: int,
    data: dict[str, Any],
    *,
    now: datetime,
    actor: str | None = None,
) -> Program:
    """Merge the given top-level keys onto the stored program and validate the whole.

    Returns the updated Program; raises NotFound, ValidationError, or Conflict("experiment.
    variants") when the change drops an A/B variant that advocates are assigned to (weights
    and offers may change; removing the whole experiment ends it). Idempotent.
    """
    if not isinstance(data, dict):
        raise ValidationError.single("body", "must be an object")
    row = _row(session, shop_id, program_id)
    program = _validated_update(row, _experiment_starting(data, now, row.config.get("experiment")))
    _keep_assigned_variants(session, program)
    row.config = program_to_dict(program)
    row.name = program.name
    row.kind = program.kind
    row.status = _status(program)
    row.updated_at = now
    session.flush()
    _audit(session, program, actor, "program.updated", sorted(data), now)
    return program


def _experiment_starting(data: Any, now: datetime, stored: Any = None) -> Any:
    """`data` with the experiment's missing `started_at` filled in: the stored experiment's
    (a change to a running test keeps its start), else `now` (a new test starts now)."""
    experiment = data.get("experiment") if isinstance(data, dict) else None
    if not isinstance(experiment, dict) or experiment.get("started_at") is not None:
        return data
    started = stored.get("started_at") if isinstance(stored, dict) else None
    return {**data, "experiment": {**experiment, "started_at": started or now.isoformat()}}


def _keep_assigned_variants(session: Session, program: Program) -> None:
    """Refuse an experiment that no longer has a variant advocates were assigned to: their
    offer and the results would silently change meaning."""
    if program.experiment is None:
        return
    assigned = assigned_variants(session, program.shop_id, program.id)
    kept = {variant.key for variant in program.experiment.variants}
    dropped = sorted(assigned - kept)
    if dropped:
        raise Conflict(
            f"advocates are assigned to variant(s) {', '.join(dropped)}: keep them (their "
            "weight may change), or remove the whole experiment to end it",
            field="experiment.variants",
        )


def get_program(session: Session, shop_id: int, program_id: int) -> Program:
    """The shop's program; raises NotFound (also for another shop's program)."""
    return load_program(_row(session, shop_id, program_id))


def list_programs(session: Session, shop_id: int) -> list[Program]:
    """The shop's programs, oldest first."""
    rows = session.scalars(
        select(ProgramRow).where(ProgramRow.shop_id == shop_id).order_by(ProgramRow.id)
    ).all()
    return [load_program(row) for row in rows]


def shop_currency(session: Session, shop_id: int) -> str:
    """The shop's currency (every program of the shop has it); raises NotFound."""
    currency = session.scalar(select(Shop.currency).where(Shop.id == shop_id))
    if currency is None:
        raise NotFound("shop", shop_id)
    return currency


def _audit(
    session: Session,
    program: Program,
    actor: str | None,
    action: str,
    parts: list[str],
    now: datetime,
) -> None:
    if actor is not None:
        record_audit(
            session, program.shop_id, actor=actor, action=action, subject_type="program",
            subject_id=program.id, details={"parts": parts, "active": program.active}, now=now,
        )  # fmt: skip


def _row(session: Session, shop_id: int, program_id: int) -> ProgramRow:
    row = session.scalars(
        select(ProgramRow).where(ProgramRow.shop_id == shop_id, ProgramRow.id == program_id)
    ).one_or_none()
    if row is None:
        raise NotFound("program", program_id)
    return row


def public_ids(session: Session, shop_id: int, program_ids: Iterable[int]) -> dict[int, str]:
    """The shop's programs' public ids (`/p/<public_id>/...`), by program id."""
    rows = session.execute(
        select(ProgramRow.id, ProgramRow.public_id).where(
            ProgramRow.shop_id == shop_id, ProgramRow.id.in_(list(program_ids))
        )
    )
    return {program_id: public_id for program_id, public_id in rows if public_id}
