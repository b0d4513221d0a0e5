"""The audit trail: every service that changes data appends a hash-chained event.

Each event's hash is an HMAC, keyed outside the database, of its own columns and the
previous event's hash; the chain head (one row) holds the length and the newest hash.
`verify_chain` recomputes everything, so an edited, deleted or re-ordered row is found
and named, even by someone who could also rewrite the later rows and the head.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_request_context, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.clock import as_utc
from portal.extensions import db
from portal.models import AuditChainHead, AuditEvent

GENESIS = "0" * 64
HEAD_ID = 1


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_digest(content: str | bytes | Mapping[str, Any]) -> str:
    """SHA-256 of a text, bytes, or a mapping (as canonical JSON)."""
    if isinstance(content, Mapping):
        content = _canonical_json(content)
    if isinstance(content, str):
        content = content.encode("utf-8")
    return hashlib.sha256(content).hexdigest()


def _timestamp(moment: dt.datetime) -> str:
    """UTC with microseconds, the same whichever database stored it (SQLite drops the zone)."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(event: AuditEvent) -> str:
    """The hash an event must carry: an HMAC (keyed with AUDIT_KEY, which is not in the
    database) of its columns and `prev_hash`. Someone who can edit the database but does
    not hold the key cannot re-hash an edited row or re-link the chain after a deletion.
    """
    payload = {
        "sequence": event.sequence,
        "occurred_at": _timestamp(event.occurred_at),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "ip_address": event.ip_address,
        "content_hash": event.content_hash,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    return _mac(_canonical_json(payload))


def _mac(text: str) -> str:
    key = str(current_app.config["AUDIT_KEY"]).encode("utf-8")
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def head_seal(length: int, last_hash: str) -> str:
    """The chain head's seal: binds its length to its newest hash under the key."""
    return _mac(f"head:{length}:{last_hash}")


def _chain_head(session: Session) -> AuditChainHead:
    """The chain head, locked for this transaction.

    The migration creates it; should it be missing (tables emptied), the first writer
    creates it, and a writer racing it waits for that row instead of failing.
    """
    head = session.get(AuditChainHead, HEAD_ID, with_for_update=True, populate_existing=True)
    if head is None:
        try:
            with session.begin_nested():
                session.add(
                    AuditChainHead(
                        id=HEAD_ID, length=0, last_hash=GENESIS, seal=head_seal(0, GENESIS)
                    )
                )
        except IntegrityError:
            pass  # another transaction created it first
        head = session.get(
            AuditChainHead, HEAD_ID, with_for_update=True, populate_existing=True
        )
        assert head is not None
    return head


def client_address() -> str | None:
    """The address of the request being served, if any (ProxyFix sets it behind a proxy)."""
    return request.remote_addr if has_request_context() else None


def record_event(
    actor: Any,
    action: str,
    obj: Any,
    *,
    content: str | bytes | Mapping[str, Any] | None = None,
    **details: Any,
) -> AuditEvent:
    """Append an audit event for `action` on `obj` to the current transaction.

    `content` is the object's new content (hashed, not stored); details are stored
    as JSON. Appending locks the chain head until the transaction ends.
    """
    actor_id = getattr(actor, "id", None) if getattr(actor, "is_authenticated", False) else None
    head = _chain_head(db.session)
    event = AuditEvent(
        sequence=head.length + 1,
        occurred_at=dt.datetime.now(dt.UTC),
        actor_id=actor_id if isinstance(actor_id, int) else None,
        actor_label=getattr(actor, "email", None) or getattr(actor, "label", "anonymous"),
        action=action,
        object_type=type(obj).__name__,
        object_id=getattr(obj, "id", None),
        ip_address=client_address(),
        content_hash=None if content is None else content_digest(content),
        # Stored exactly as hashed: JSON in, JSON out.
        details=json.loads(_canonical_json(details)),
        prev_hash=head.last_hash,
    )
    event.hash = event_hash(event)
    head.length, head.last_hash = event.sequence, event.hash
    head.seal = head_seal(head.length, head.last_hash)
    db.session.add(event)
    return event


@dataclass(frozen=True)
class ChainReport:
    """What `flask audit verify` found."""

    events: int
    intact: bool
    problem: str | None = None
    broken_event_id: int | None = None
    last_hash: str = GENESIS


def _describe(event: AuditEvent) -> str:
    when = _timestamp(event.occurred_at)
    return f"event #{event.sequence} (id {event.id}, {event.action}, {when})"


def verify_chain(session: Session) -> ChainReport:
    """Recompute the chain from the first event; the report names the first broken one."""
    query = select(AuditEvent).order_by(AuditEvent.sequence, AuditEvent.id)
    events = session.scalars(query.execution_options(yield_per=1000))
    try:
        return _walk(session, events)
    finally:
        events.close()  # a server-side cursor on PostgreSQL, maybe left half-read


def _walk(session: Session, events: Iterable[AuditEvent]) -> ChainReport:
    expected, previous, count = 1, GENESIS, 0

    def broken(event: AuditEvent, problem: str) -> ChainReport:
        return ChainReport(count, False, f"{_describe(event)}: {problem}", event.id, previous)

    for event in events:
        if event.sequence != expected:
            what = "is missing" if event.sequence > expected else "appears twice"
            return broken(event, f"event #{expected} {what} before it (deleted or re-numbered)")
        if event.prev_hash != previous:
            return broken(event, "does not follow the event before it (changed or removed)")
        if event_hash(event) != event.hash:
            return broken(event, "its content was changed after it was recorded")
        previous, expected, count = event.hash, expected + 1, count + 1
    head = session.get(AuditChainHead, HEAD_ID)
    head_length, head_hash = (head.length, head.last_hash) if head else (0, GENESIS)
    sealed = head is None or hmac.compare_digest(
        head.seal or "", head_seal(head.length, head.last_hash)
    )
    if head_length != count or head_hash != previous or not sealed:
        return ChainReport(
            count,
            False,
            f"the chain head records {head_length} events ending in {head_hash[:12]}, but "
            f"{count} events ending in {previous[:12]} are stored: the newest events were "
            f"removed or the head was changed (first missing: event #{count + 1})",
            None,
            previous,
        )
    return ChainReport(count, True, None, None, previous)
