"""Which documents a feed carries: the document list's filters, for what its reader may read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from portal.access import syndicated_documents
from portal.documents.listing import DocumentFilters, filtered_documents
from portal.extensions import db
from portal.models import Document, State

#: Entries in one feed: the most recently changed documents.
FEED_LIMIT = 50


class BadFilter(ValueError):
    """A filter value that names nothing; `status` is the HTTP answer (400 or 404)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def feed_filters(args: Mapping[str, str]) -> tuple[DocumentFilters, State | None]:
    """The document list's filters from query arguments, and the state they name.

    Raises BadFilter for a malformed type or commitment (400) or an unknown state (404).
    """
    filters = DocumentFilters.from_args(args)
    if filters.error:
        raise BadFilter(filters.error, 400)
    state = None
    if filters.state:
        state = db.session.scalar(select(State).where(State.code == filters.state[:8]))
        if state is None:
            raise BadFilter(
                _("There is no state with the code “%(code)s”.", code=filters.state[:8]), 404
            )
    return filters, state


def feed_documents(
    reader: Any, filters: DocumentFilters, limit: int = FEED_LIMIT
) -> list[Document]:
    """The `limit` most recently changed published documents `reader` may read now (None: an
    anonymous reader), narrowed by `filters`, with what an entry shows loaded."""
    query = (
        filtered_documents(reader, filters)
        .where(syndicated_documents(reader))
        .order_by(None)
        .order_by(Document.updated_at.desc(), Document.id.desc())
        .limit(limit)
        .options(
            joinedload(Document.state),
            joinedload(Document.author),
            joinedload(Document.current_revision),
            selectinload(Document.commitments),
        )
    )
    return list(db.session.scalars(query).unique())
