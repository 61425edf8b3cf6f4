"""The declarative base every model derives from (one MetaData with a naming convention)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from .types import metadata


class Base(DeclarativeBase):
    metadata = metadata
