"""Assigning a new advocate to a group of the program's A/B test, once, at enrollment.

`assign_group` runs inside `advocates.enroll_advocate`'s savepoint, right after the advocate
row is inserted: when the program's experiment assigns at `now`, it draws the group
(`experiments.choose_variant` with the injected random source), sets `advocates.variant` and
inserts the `experiment_assignments` row, whose unique advocate id makes the assignment happen
once; a repeated enrollment finds the advocate and never reaches it. Advocates enrolled while
no experiment assigns keep no group and see the program's own offer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.experiments import HOLDOUT, EnrollmentSource, choose_variant
from ..domain.programs import Program
from ..models import Advocate, ExperimentAssignment

RandomSource = Callable[[], float]  # a number in [0, 1), e.g. `random.SystemRandom().random`


def system_random() -> float:
    """The default random source: the operating system's, so groups cannot be predicted."""
    return random.SystemRandom().random()


def assign_group(
    session: Session,
    advocate: Advocate,
    program: Program,
    *,
    source: EnrollmentSource,
    now: datetime,
    random_value: RandomSource | None = None,
) -> str | None:
    """Draw and record the new (flushed) advocate's group; returns it, or None when the program
    assigns nobody at `now`. The caller owns the transaction (and the savepoint)."""
    experiment = program.experiment
    if experiment is None or not experiment.assigns_at(now):
        return None
    variant = choose_variant(experiment, (random_value or system_random)())
    advocate.variant = variant
    session.add(
        ExperimentAssignment(
            shop_id=advocate.shop_id,
            program_id=advocate.program_id,
            advocate_id=advocate.id,
            variant=variant,
            source=source,
            assigned_at=now,
        )
    )
    session.flush()
    return variant


def assigned_program_ids(session: Session, shop_id: int) -> set[int]:
    """The shop's programs that have assigned advocates to a group (whose test runs or ran,
    so it has results), with or without an experiment now. Read-only."""
    return set(
        session.scalars(
            select(ExperimentAssignment.program_id)
            .where(ExperimentAssignment.shop_id == shop_id)
            .distinct()
        )
    )


def assigned_variants(session: Session, shop_id: int, program_id: int) -> set[str]:
    """The variant keys (never the holdout) the program's advocates are assigned to. Read-only."""
    return set(
        session.scalars(
            select(ExperimentAssignment.variant)
            .where(
                ExperimentAssignment.shop_id == shop_id,
                ExperimentAssignment.program_id == program_id,
                ExperimentAssignment.variant != HOLDOUT,
            )
            .distinct()
        )
    )
