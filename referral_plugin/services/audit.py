"""The audit log: who did what to which object, per shop."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from ..models import AuditEntry


def record_audit(
    session: Session,
    shop_id: int,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: object,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Append one audit entry (never secrets or raw payloads in `details`). Not idempotent."""
    entry = AuditEntry(
        shop_id=shop_id,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=None if subject_id is None else str(subject_id),
        details=dict(details or {}),
        created_at=now or datetime.now(tz=UTC),
    )
    session.add(entry)
    session.flush()
    return entry
