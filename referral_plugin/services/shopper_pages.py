"""What the shopper pages read: a program by its public id, and an advocate by their code.

The public id is the only way into a program from outside; the lookup returns the program's
shop, and every later query of the request is scoped to that shop.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.codes import normalize_code
from ..domain.decisions import CodeKind
from ..domain.experiments import program_for
from ..domain.programs import Program
from ..errors import NotFound
from ..models import Advocate, AdvocateStatus, Code, ProgramStatus, Shop, ShopStatus
from ..models import Program as ProgramRow
from .snapshots import load_program


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgramPage:
    shop_id: int
    public_id: str
    program: Program
    store_name: str  # the shop's name, else its domain


@dataclass(frozen=True, slots=True, kw_only=True)
class AdvocateCode:
    advocate_id: int
    code: str  # display form
    first_name: str | None
    variant: str | None = None  # the advocate's A/B group: their pages show its offer


def find_program_page(session: Session, public_id: str, *, active_only: bool = True) -> ProgramPage:
    """The program with this public id and its shop; raises NotFound. With `active_only` (the
    join and share pages) a paused program or an uninstalled shop is not found either: shoppers
    cannot join those; without it (an unsubscribe link) any status will do, so a link keeps
    working after the program is paused or the app uninstalled."""
    row = session.execute(
        select(ProgramRow, Shop)
        .join(Shop, Shop.id == ProgramRow.shop_id)
        .where(ProgramRow.public_id == public_id)
    ).one_or_none()
    if row is None:
        raise NotFound("program", public_id)
    program_row, shop = row
    inactive = (
        program_row.status is not ProgramStatus.ACTIVE or shop.status is not ShopStatus.ACTIVE
    )
    if active_only and inactive:
        raise NotFound("program", public_id)
    return ProgramPage(
        shop_id=shop.id,
        public_id=public_id,
        program=load_program(program_row),
        store_name=shop.name or shop.domain,
    )


def find_advocate_code(session: Session, shop_id: int, program_id: int, code: str) -> AdvocateCode:
    """The active advocate of the program whose share code is `code`; raises NotFound."""
    row = session.execute(
        select(Advocate, Code)
        .join(Code, Code.advocate_id == Advocate.id)
        .where(
            Code.shop_id == shop_id,
            Code.program_id == program_id,
            Code.kind == CodeKind.ADVOCATE,
            Code.normalized == normalize_code(code),
            Advocate.shop_id == shop_id,
            Advocate.status == AdvocateStatus.ACTIVE,
        )
    ).one_or_none()
    if row is None:
        raise NotFound("code", "(hidden)")
    advocate, code_row = row
    return AdvocateCode(
        advocate_id=advocate.id,
        code=code_row.code,
        first_name=advocate.first_name,
        variant=advocate.variant,
    )


def seen_by(program_page: ProgramPage, variant: str | None) -> ProgramPage:
    """The page's program as an advocate of A/B group `variant` (or their friend) sees it."""
    return dataclasses.replace(program_page, program=program_for(program_page.program, variant))
