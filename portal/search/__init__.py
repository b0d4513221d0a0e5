"""Full-text search: a Whoosh index per node, kept in step with the change log."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, current_app, has_app_context
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.direct_reads import read_number_now
from portal.extensions import db
from portal.search.index import LATEST_CHANGE, SearchIndex

log = logging.getLogger("portal.search")
AFTER_COMMIT_LOCK_TIMEOUT = 2.0
_deferred = threading.local()


def search_index() -> SearchIndex:
    """The current app's index."""
    return current_app.extensions["search"]


@contextmanager
def deferred_indexing() -> Iterator[None]:
    """Inside this block commits do not update the index; catch up once afterwards."""
    _deferred.active = True
    try:
        yield
    finally:
        _deferred.active = False


@event.listens_for(FlaskSession, "after_commit")
def _apply_changes_after_commit(session: Session) -> None:
    """Right after a commit that logged search changes, apply them to this node's index."""
    if not session.info.pop("search_changed", False) or getattr(_deferred, "active", False):
        return
    if not has_app_context() or not current_app.config["SEARCH_APPLY_ON_COMMIT"]:
        return
    try:
        # A short wait: if another process holds the index (a long rebuild), the change
        # stays in the log and the next search or catch-up applies it.
        search_index().catch_up(timeout=AFTER_COMMIT_LOCK_TIMEOUT)
    except Exception:
        # The change is committed and logged: the next search or process applies it.
        log.exception("could not apply search changes after commit; they stay in the log")


@event.listens_for(FlaskSession, "after_rollback")
def _forget_changes_after_rollback(session: Session) -> None:
    session.info.pop("search_changed", None)


def _latest_change() -> int:
    """The change log's newest id, read outside the request's transaction: one round trip
    before each search, instead of a session's checkout, ping and rollback."""
    return read_number_now(LATEST_CHANGE)


def init_app(app: Flask) -> None:
    """Attach this process's index handle, the search page and `flask search`."""
    from portal.search.cli import search_cli
    from portal.search.views import bp

    app.config.setdefault("SEARCH_APPLY_ON_COMMIT", True)
    app.extensions["search"] = SearchIndex(
        Path(app.config["SEARCH_INDEX_DIR"]),
        lambda: Session(db.engine),
        rebuild_memory_mb=app.config.get("SEARCH_REBUILD_MEMORY_MB", 1024),
        latest_change=_latest_change,
    )
    app.register_blueprint(bp)
    app.cli.add_command(search_cli)
