"""Automatic enrollment: customers with a paid order become advocates of the programs that ask
for it (`program.auto_enroll`), and get the welcome email with their code and links.

A worker job, not the order path. Each program reads its shop's conversions in (updated_at, id)
order from a cursor (`auto_enroll_cursors`), so a run only looks at orders that changed since
the last one, including an order placed earlier and paid now. Only conversions last updated
SETTLE ago or earlier are read: every transaction that stamped an earlier time has committed
by then, so the cursor never passes an order a slower worker is still writing. A new cursor
starts at the program's last save (when auto-enrollment was switched on); switching it off or
pausing the program drops the cursor, so customers of that time are not enrolled later.

Safe with several workers: two runs may read the same conversions, but enrollment is idempotent
per (program, identity email), a database constraint (`enroll_advocate`), only the run that
created the advocate queues the welcome (itself once per advocate by its dedup key), and the
cursor only ever moves forward. A customer the program's A/B test holds out is enrolled (the
assignment counts in the results) but gets no code and no welcome.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from ..domain.experiments import EnrollmentSource
from ..domain.programs import Program
from ..models import Advocate, Conversion, ProgramStatus, Shop, ShopStatus
from ..models import Program as ProgramRow
from ..models.shopper_emails import AutoEnrollCursor
from .advocates import enroll_advocate
from .experiment_assignments import RandomSource
from .shopper_emails import queue_welcome
from .snapshots import load_program

SETTLE = timedelta(minutes=5)
BATCH = 200  # conversions read per program and run


def enroll_new_customers(
    session: Session, *, now: datetime, limit: int = BATCH, random_value: RandomSource | None = None
) -> int:
    """Enroll the customers of conversions paid since each program's cursor; returns how many
    advocates were created. Idempotent. `random_value` draws A/B groups (the system's random
    source by default)."""
    enrolled = 0
    for row in _installed_programs(session):
        program = load_program(row)
        if program.auto_enroll and row.status is ProgramStatus.ACTIVE:
            enrolled += _enroll_for_program(session, row, program, now, limit, random_value)
        else:
            _forget_cursor(session, row)
    return enrolled


def _installed_programs(session: Session) -> list[ProgramRow]:
    return list(
        session.scalars(
            select(ProgramRow)
            .join(Shop, Shop.id == ProgramRow.shop_id)
            .where(Shop.status == ShopStatus.ACTIVE)
            .order_by(ProgramRow.id)
        )
    )


def _enroll_for_program(
    session: Session,
    row: ProgramRow,
    program: Program,
    now: datetime,
    limit: int,
    random_value: RandomSource | None,
) -> int:
    cursor = _cursor(session, row, now)
    after_at, after_id = cursor.after_updated_at, cursor.after_conversion_id
    conversions = session.execute(
        select(
            Conversion.id,
            Conversion.updated_at,
            Conversion.email,
            Conversion.identity_email,
            Conversion.customer_id,
        )
        .where(
            Conversion.shop_id == row.shop_id,
            Conversion.updated_at <= now - SETTLE,
            or_(
                Conversion.updated_at > after_at,
                and_(Conversion.updated_at == after_at, Conversion.id > after_id),
            ),
            Conversion.paid.is_(True),
            Conversion.cancelled.is_(False),
            Conversion.is_test.is_(False),
        )
        .order_by(Conversion.updated_at, Conversion.id)
        .limit(limit)
    ).all()
    enrolled = sum(
        _enroll(session, program, conversion, now, random_value) for conversion in conversions
    )
    if conversions:
        last = conversions[-1]
        _move_cursor(session, cursor, last.updated_at, last.id, now)
    return enrolled


def _enroll(
    session: Session,
    program: Program,
    conversion: Row,
    now: datetime,
    random_value: RandomSource | None,
) -> bool:
    """Enroll the conversion's customer unless they are an advocate of the program already."""
    if conversion.email is None or conversion.identity_email is None:
        return False
    if _is_advocate(session, program, conversion):
        return False
    enrolled = enroll_advocate(
        session, program.shop_id, program.id, email=conversion.email,
        customer_id=conversion.customer_id, now=now, source=EnrollmentSource.AUTO_ENROLL,
        random_value=random_value,
    )  # fmt: skip
    if not enrolled.created:  # another worker, or the join page, was first
        return False
    if not enrolled.code:  # held out by the program's A/B test: recorded, never told
        return True
    advocate = session.get_one(Advocate, enrolled.id)
    queue_welcome(session, advocate, program, now)
    return True


def _is_advocate(session: Session, program: Program, conversion: Row) -> bool:
    same_person = Advocate.identity_email == conversion.identity_email
    if conversion.customer_id is not None:
        same_person = or_(same_person, Advocate.customer_id == conversion.customer_id)
    found = session.scalar(
        select(
            exists().where(
                Advocate.shop_id == program.shop_id,
                Advocate.program_id == program.id,
                same_person,
            )
        )
    )
    return bool(found)


def _cursor(session: Session, row: ProgramRow, now: datetime) -> AutoEnrollCursor:
    """The program's cursor, created at the program's last save if it has none yet."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        module.insert(AutoEnrollCursor)
        .values(
            shop_id=row.shop_id,
            program_id=row.id,
            after_updated_at=row.updated_at,
            after_conversion_id=0,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["shop_id", "program_id"])
    )
    return session.scalars(
        select(AutoEnrollCursor).where(
            AutoEnrollCursor.shop_id == row.shop_id, AutoEnrollCursor.program_id == row.id
        )
    ).one()


def _move_cursor(
    session: Session, cursor: AutoEnrollCursor, at: datetime, conversion_id: int, now: datetime
) -> None:
    """Forward only: a run that read less than a concurrent one leaves the cursor alone."""
    session.execute(
        update(AutoEnrollCursor)
        .where(
            AutoEnrollCursor.id == cursor.id,
            AutoEnrollCursor.shop_id == cursor.shop_id,
            or_(
                AutoEnrollCursor.after_updated_at < at,
                and_(
                    AutoEnrollCursor.after_updated_at == at,
                    AutoEnrollCursor.after_conversion_id < conversion_id,
                ),
            ),
        )
        .values(after_updated_at=at, after_conversion_id=conversion_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def _forget_cursor(session: Session, row: ProgramRow) -> None:
    session.execute(
        delete(AutoEnrollCursor).where(
            AutoEnrollCursor.shop_id == row.shop_id, AutoEnrollCursor.program_id == row.id
        )
    )
