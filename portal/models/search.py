"""The search change log: one row per change that affects the search index."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, Integer, func
from sqlalchemy.orm import Mapped, mapped_column

from portal.models import Base


class SearchChange(Base):
    """A document whose indexed form may have changed, in commit order.

    Written in the same transaction as the change; each node's index applies rows
    after the last id it has recorded. No foreign key: a deleted document's row must
    stay so the index learns to drop it.
    """

    __tablename__ = "search_changes"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    document_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
