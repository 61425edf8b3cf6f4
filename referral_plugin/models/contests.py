"""Tables for contests (issue 7): recorded winner draws.

A draw is never changed or replaced: drawing again records another row. It keeps what anyone
needs to re-run it (`domain.contest_draw`): the seed, the weighting, the algorithm, the window
the entries were read from, and the number and SHA-256 digest of those entries. Winners are
advocate ids (JSON, in the order drawn), so the row holds no personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..domain.contest_draw import Weighting
from .base import Base
from .types import BigId, EnumText, Json, UTCDateTime


class ContestDraw(Base):
    __tablename__ = "contest_draws"
    __table_args__ = (
        Index("ix_contest_draws_shop_id_program_id_id", "shop_id", "program_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shops.id"))
    program_id: Mapped[int] = mapped_column(BigId, ForeignKey("programs.id"))
    seed: Mapped[str] = mapped_column(String(256))
    seed_source: Mapped[str] = mapped_column(String(16))  # "merchant" or "generated"
    weighting: Mapped[Weighting] = mapped_column(EnumText(Weighting, 16))
    algorithm: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entries: Mapped[int] = mapped_column(Integer)
    advocates: Mapped[int] = mapped_column(Integer)
    entries_digest: Mapped[str] = mapped_column(String(64))
    # [{"advocate_id": int, "entries": int}] in the order drawn.
    winners: Mapped[list[Any]] = mapped_column(Json)
    drawn_by: Mapped[str] = mapped_column(String(255))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime)
