"""The data's version, for caches of derived data shared by every worker and node.

Every change made through the services appends an audit event in the same transaction, so
the audit trail's length grows with every change, on whichever worker or node made it; the
database itself counts every change of who may read as whom (a session ended, an account
deactivated or signed out everywhere, its language saved: `AuditChainHead.access_changes`).
The version is their sum. A cache entry made at one version is stale at any other.

A request with credentials reads the version from the database, so a reader sees their own
change at once. With DATA_VERSION_LISTEN (PostgreSQL; on in production), a visitor's request
takes it from the worker's watch instead (`portal/version_watch.py`): a change made anywhere
reaches it as a notification, within milliseconds; so does a signed-in reader's kept page,
unless that reader changed something a moment ago (`portal/reader_pages.py`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from flask import current_app, has_request_context
from sqlalchemy import Engine, Select, create_engine, event, func, select
from sqlalchemy.pool import NullPool

from portal.audit import HEAD_ID
from portal.auth.sessions import carries_credentials
from portal.direct_reads import read_number_now
from portal.extensions import db, once_per_app
from portal.models import AuditChainHead
from portal.version_watch import VersionWatch

_VERSION = select(AuditChainHead.length + AuditChainHead.access_changes).where(
    AuditChainHead.id == HEAD_ID
)
_WATCH = "data_version_watch"
WATCH_APPLICATION_NAME = "portal data version watch"
log = logging.getLogger("portal.data_version")
T = TypeVar("T")
#: Values kept per name by `kept_for_version`.
MAX_KEPT = 64
_kept_lock = threading.Lock()


def data_version(*, for_reader: bool = False) -> int:
    """The data version, for every kept page or feed served: what the watch heard, if it can
    vouch for it, for a visitor's request or, `for_reader`, a signed-in reader's kept page
    (`VersionWatch.version`); else one primary-key read."""
    if has_request_context() and (for_reader or not carries_credentials()):
        watch = _watch()
        version = watch.version(for_reader=for_reader) if watch is not None else None
        if version is not None:
            return version
    return read_number_now(_VERSION)


def kept_for_version(name: str, make: Callable[[], T], key: Hashable = ()) -> T:
    """`make()`, kept by this worker under `name` and `key` for one data version and at most
    VISITOR_PAGE_SECONDS, like the visitors' pages (the MAX_KEPT keys used last, per name):
    for data derived from the database that pages need on every request (matrices, the
    names of search facets' values). Shared by the worker's threads: never modify it."""
    max_age = current_app.config.get("VISITOR_PAGE_SECONDS", 30)
    if max_age <= 0:
        return make()
    # One store per app (each test's app starts empty).
    kept: OrderedDict[Hashable, tuple[float, Any]]
    kept = current_app.extensions.setdefault(f"kept {name}", OrderedDict())
    versioned, now = (key, data_version()), time.monotonic()
    with _kept_lock:
        found = kept.get(versioned)
        if found is not None and now - found[0] <= max_age:
            kept.move_to_end(versioned)
            return found[1]  # type: ignore[no-any-return]
    value = make()
    with _kept_lock:
        kept[versioned] = (now, value)
        while len(kept) > MAX_KEPT:
            kept.popitem(last=False)
    return value


def with_data_version(statement: Select[Any]) -> Select[Any]:
    """`statement` with the data version as its last column (0 without a chain head): one
    round trip for a row and the version, from one snapshot (the watch's heartbeat)."""
    return statement.add_columns(func.coalesce(_VERSION.scalar_subquery(), 0))


def _watch() -> VersionWatch | None:
    """This app's watch, if DATA_VERSION_LISTEN is set and the database can notify (PostgreSQL
    through psycopg 3); stopped with the app's engine."""
    watch: VersionWatch | None = once_per_app(_WATCH, lambda: _make_watch(db.engine))
    return watch


def _make_watch(main: Engine) -> VersionWatch | None:
    url = main.url
    if not current_app.config.get("DATA_VERSION_LISTEN") or url.get_backend_name() == "sqlite":
        return None
    if url.get_driver_name() != "psycopg":
        log.warning("DATA_VERSION_LISTEN needs psycopg 3: reading the version per request")
        return None
    engine = create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,  # one connection, held by the watch's thread
        # A partition without a reset must not hold the thread for the kernel's minutes.
        connect_args={"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 5,
                      "keepalives_interval": 2, "keepalives_count": 2, "tcp_user_timeout": 5000},
    )  # fmt: skip

    @event.listens_for(engine, "do_connect")
    def name_the_connection(_d: object, _r: object, _a: object, params: dict[str, Any]) -> None:
        params["application_name"] = watch_application_name()  # in pg_stat_activity

    watch = VersionWatch(engine, with_data_version(select(func.pg_backend_pid())))
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def stop(_: object) -> None:
        watch.stop()
        engine.dispose()
        app.extensions.pop(_WATCH, None)  # the next request starts a new one

    event.listen(main, "engine_disposed", stop, once=True)
    return watch


def watch_application_name() -> str:
    """How this process's watch connection is named in pg_stat_activity."""
    return f"{WATCH_APPLICATION_NAME} {os.getpid()}"
