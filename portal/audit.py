"""Append-only audit events: every service that changes data records one."""

from __future__ import annotations

from typing import Any

from portal.extensions import db
from portal.models import AuditEvent


def record_event(actor: Any, action: str, obj: Any, **details: Any) -> AuditEvent:
    """Add an audit event for `action` on `obj` to the current transaction."""
    actor_id = getattr(actor, "id", None) if getattr(actor, "is_authenticated", False) else None
    event = AuditEvent(
        actor_id=actor_id if isinstance(actor_id, int) else None,
        actor_label=getattr(actor, "email", None) or getattr(actor, "label", "anonymous"),
        action=action,
        object_type=type(obj).__name__,
        object_id=getattr(obj, "id", None),
        details=details,
    )
    db.session.add(event)
    return event
