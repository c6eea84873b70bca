"""The audit trail: every moderator command, allowed or refused, with its outcome."""

from __future__ import annotations

from sqlmodel import Session, col, select

from knowledge.language.names import strip_controls
from knowledge.models import (
    AuditRecord,
)


def record_audit(*, session: Session, user_id: int, command: str, outcome: str) -> AuditRecord:
    record = AuditRecord(
        user_id=user_id,
        command=" ".join(strip_controls(command).split())[:300],
        outcome=strip_controls(outcome)[:300],
    )
    session.add(record)
    session.flush()
    return record


AUDIT_DEFAULT, AUDIT_MAX = 20, 200  # records /audit shows by default, and at most


def recent_audit(*, session: Session, limit: int = AUDIT_DEFAULT) -> list[AuditRecord]:
    """The latest audit records, newest first."""
    limit = max(1, min(limit, AUDIT_MAX))
    return list(
        session.exec(select(AuditRecord).order_by(col(AuditRecord.id).desc()).limit(limit))
    )
