"""The data's version, for caches of derived data shared by every worker and node.

Every change made through the services appends an audit event in the same transaction, so
the audit trail's length grows with every change, on whichever worker or node made it. A
cache entry made at one version is stale at any other.
"""

from __future__ import annotations

import os
import threading

from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.exc import DBAPIError

from portal.audit import HEAD_ID
from portal.extensions import db
from portal.models import AuditChainHead

_LENGTH = select(AuditChainHead.length).where(AuditChainHead.id == HEAD_ID)


class _Held(threading.local):
    """This thread's connection for the version read, and its engine (one at a time)."""

    engine: Engine | None = None
    connection: Connection | None = None


_held = _Held()
#: Every held connection by engine, closed when the engine is disposed: a thread that ends
#: leaves its connection here (never to the garbage collector, which would warn).
_opened: dict[Engine, list[Connection]] = {}
_lock = threading.Lock()


def _forget_after_fork() -> None:
    global _held, _opened, _lock
    # A parent's connections are never used (nor closed) by a child.
    _held, _opened, _lock = _Held(), {}, threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def data_version() -> int:
    """The audit trail's length: one primary-key read, on every kept page served.

    The read runs on a connection each thread keeps for it, in autocommit mode: no pool
    checkout, no liveness ping, no BEGIN or ROLLBACK (on PostgreSQL one round trip instead
    of four). It holds no transaction, so it never pins a snapshot or blocks a schema
    change. A connection lost since its last use (a database restart) is replaced and the
    read tried once more; if that fails too, the error is raised (the 503 page).
    """
    for attempt in (1, 2):
        connection = _connection()
        try:
            return connection.execute(_LENGTH).scalar() or 0
        except DBAPIError as error:
            _held.connection = None
            _release(_held.engine, connection)
            if attempt == 2 or not error.connection_invalidated:
                raise
    raise AssertionError("unreachable")


def _connection() -> Connection:
    engine = db.engine
    connection = _held.connection
    if connection is not None and _held.engine is engine and not connection.closed:
        return connection
    if connection is not None:
        _release(_held.engine, connection)  # another app's engine (tests make many)
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    with _lock:
        if engine not in _opened:
            _opened[engine] = []
            event.listen(engine, "engine_disposed", _close_all)
        _opened[engine].append(connection)
    _held.engine, _held.connection = engine, connection
    return connection


def _release(engine: Engine | None, connection: Connection) -> None:
    with _lock:
        held = _opened.get(engine) if engine is not None else None
        if held and connection in held:
            held.remove(connection)
    connection.close()


def _close_all(engine: Engine) -> None:
    """Engine.dispose() closes idle pooled connections: close the held ones too."""
    with _lock:
        connections = _opened.pop(engine, [])
    for connection in connections:
        connection.invalidate()  # its pool is gone: close the database connection itself
        connection.close()
