"""Appending to the search change log, inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy import text

from portal.extensions import db
from portal.models import SearchChange

# Any fixed number: the PostgreSQL advisory lock that orders change-log commits.
_CHANGE_LOG_LOCK = 0x45434852  # "ECHR"


def log_search_change(document_id: int) -> None:
    """Record that `document_id` must be (re)indexed once this transaction commits.

    Indexes remember the last change id they applied, so ids must become visible in
    increasing order. On PostgreSQL a transaction-scoped advisory lock makes writers of
    the log commit one after another (ids allocated by a sequence could otherwise
    commit out of order and be skipped); SQLite already has a single writer.
    """
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHANGE_LOG_LOCK})
    session.add(SearchChange(document_id=document_id))
    session.info["search_changed"] = True
