"""Append-only, hash-chained record of who changed what, when and from where."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.models import Base


class AuditEvent(Base):
    """One change made through a service: never updated or deleted by the application.

    `hash` covers every other column and the previous event's hash, so editing or
    deleting a row breaks the chain (`flask audit verify`).
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Position in the chain: 1, 2, 3... with no gaps (database ids may have gaps).
    sequence: Mapped[int] = mapped_column(Integer, unique=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Who acted when there is no account: "content-loader", "cli".
    actor_label: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str] = mapped_column(String(60))
    object_id: Mapped[int | None]
    ip_address: Mapped[str | None] = mapped_column(String(45))
    # SHA-256 of the object's new content (a revision's text, an account's new settings).
    content_hash: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(Base):
    """The single row holding the chain's length and last hash, and the data version.

    Appending locks this row first, so concurrent transactions extend the chain one
    after the other; deleting the newest events shows up as a length mismatch.

    The data version (`portal/data_version.py`) is `length + access_changes`: database
    triggers (migration 0008) count every end or change of hands of a signed-in session and
    every change of an account's activation, session version, role, state or language,
    however it is made, so a signed-in reader's kept page needs no read of its session.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    length: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    # HMAC of length and last hash: setting the head back to an earlier event (to hide
    # deleted newest events) needs the key, which is not in the database.
    seal: Mapped[str | None] = mapped_column(String(64))
    # Not sealed: it only decides whether kept pages are fresh.
    access_changes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
