"""Table of A/B test assignments (issue 7): which group each advocate of a program joined.

One row per advocate (a database constraint: assigned once, ever), written in the enrollment's
transaction together with `advocates.variant`. The row keeps how and when the advocate was
assigned, which the results read (`services.experiments`); it holds no personal data itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..domain.experiments import EnrollmentSource
from .base import Base
from .types import BigId, EnumText, UTCDateTime


class ExperimentAssignment(Base):
    __tablename__ = "experiment_assignments"
    __table_args__ = (
        Index("ix_experiment_assignments_shop_id_program_id_variant", "shop_id", "program_id",
              "variant"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shops.id"))
    program_id: Mapped[int] = mapped_column(BigId, ForeignKey("programs.id"))
    advocate_id: Mapped[int] = mapped_column(BigId, ForeignKey("advocates.id"), unique=True)
    variant: Mapped[str] = mapped_column(String(16))  # a variant key or "holdout"
    source: Mapped[EnrollmentSource] = mapped_column(EnumText(EnrollmentSource, 16))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)
