"""The audit log: who changed what, when. Written in the caller's transaction, so an entry
exists exactly when its change was committed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from planning_gis.models import AuditEntry, User


def record(
    session: Session,
    user: User | None,
    action: str,
    object_type: str | None = None,
    object_id: object = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Add one entry; ``action`` is a short verb such as ``sheet.publish``."""
    entry = AuditEntry(
        user_id=user.id if user is not None else None,
        user_email=user.email if user is not None else None,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        detail=detail,
        ip=ip,
    )
    session.add(entry)
    return entry


def recent(session: Session, limit: int = 200, offset: int = 0) -> list[AuditEntry]:
    """The newest entries first (admins read them on the audit page)."""
    return list(session.scalars(
        select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit).offset(offset)
    ))
