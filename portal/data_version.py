"""The data's version, for caches of derived data shared by every worker and node.

Every change made through the services appends an audit event in the same transaction, so
the audit trail's length grows with every change, on whichever worker or node made it. A
cache entry made at one version is stale at any other.
"""

from __future__ import annotations

from sqlalchemy import select

from portal.audit import HEAD_ID
from portal.extensions import db
from portal.models import AuditChainHead

_LENGTH = select(AuditChainHead.length).where(AuditChainHead.id == HEAD_ID)


def data_version() -> int:
    """The audit trail's length: one primary-key read on a connection of its own.

    The read needs no transaction: in autocommit mode PostgreSQL is spared the BEGIN and
    the ROLLBACK when the connection goes back to the pool (two of its four round trips).
    """
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        return connection.execute(_LENGTH).scalar() or 0
